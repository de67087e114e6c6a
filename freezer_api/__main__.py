# SPDX-License-Identifier: Apache-2.0
import sys

from freezer_api.cli.serve import main

sys.exit(main())
