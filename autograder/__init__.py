"""Autograder for the lesson "Saving, Loading, and Checkpoints".

Grading core, one module a stage: load -> inspect -> verify -> resume -> score -> feedback,
driven by checks (what the notebook's hidden tests run). Tooling: build, grade, plugin.
"""

import shutil

# What a copy of this package leaves out (the build's zip, the plugin's fresh copy): build output.
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "dist", "*.pyc")
