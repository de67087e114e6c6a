# SPDX-License-Identifier: Apache-2.0
"""Entry modules kept at the paths the seed README names."""
