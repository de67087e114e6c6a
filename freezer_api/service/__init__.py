# SPDX-License-Identifier: Apache-2.0
"""Freezer rules: validation, ids, ownership; no HTTP here."""
