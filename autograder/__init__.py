"""Autograder for the lesson "Saving, Loading, and Checkpoints".

Grading core, one module a stage: load -> inspect -> verify -> resume -> score -> feedback,
driven by checks (what the notebook's hidden tests run). Tooling: build, grade, plugin.
"""
