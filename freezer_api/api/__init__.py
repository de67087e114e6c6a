# SPDX-License-Identifier: Apache-2.0
"""HTTP only: parse requests, call the service, shape responses."""
