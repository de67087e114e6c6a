# SPDX-License-Identifier: Apache-2.0
"""Freezer API: the backup metadata catalogue of OpenStack Freezer."""
