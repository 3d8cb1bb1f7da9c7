"""Autograder packages for otter-grader assignments, and the lesson "Saving, Loading, and Checkpoints".

The shared core (this package's modules): the declaration types (assignment), safe loading
(load), problem codes (codes), the checker and its isolation (checker, isolate), the otter plugin
and what guards a grading run (plugin, guard, integrity), the upload's layout and Gradescope's
entry point (arrange, harness, emulate), the feedback's HTML (report), the build and bulk grading
(build, grade). Each lesson is a package beside them (saving_and_loading/): its declaration, model,
rules and wording. See docs/maintainers.md, "How the code is organized".
"""

import shutil

# What a copy of this package leaves out (the build's zip, the plugin's fresh copy): build output.
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "dist", "*.pyc")
