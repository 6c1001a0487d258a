"""Flex Template launch file: `octue_beam.deployment.launch.main` with the launcher's arguments.

The Dataflow Flex Template launcher runs `python launch.py --<parameter>=<value>...` (`FLEX_TEMPLATE_PYTHON_PY_FILE`);
the logic is in the package (nothing the pipeline pickles may be defined in `__main__`). A default Dataflow image
writes the same three lines to /template/launch.py (`octue_beam.deployment.dockerfiles.LAUNCH_ENTRY_LINES`).
"""

import sys

from octue_beam.deployment.launch import main

raise SystemExit(main(sys.argv[1:]))
