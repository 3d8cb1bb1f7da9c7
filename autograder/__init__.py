"""Autograder packages for otter-grader assignments, and the lesson "Saving, Loading, and Checkpoints".

The shared core (this package's modules): the declaration types and the lesson interface
(assignment, lesson), safe loading and the contract's files (load, files), problem codes (codes),
the student's self-check (selfcheck), the checker and its isolation (checker, isolate,
reproduction), the otter plugin and what guards a grading run (plugin, guard, integrity, observe,
confine), the upload's layout and Gradescope's entry point (arrange, harness, emulate), the
feedback's HTML (report), the build, bulk grading and the class report (build, grade,
class_report), nbgrader's course and preprocessors (nbgrader_course, nbgrader_grading), the
student's export (submit). Each lesson is a package beside them (saving_and_loading/): its declaration, model,
rules and wording. See docs/maintainers.md, "How the code is organized".
"""

import shutil

# What a copy of this package leaves out (the build's zip, the plugin's fresh copy): build output.
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "dist", "*.pyc")
