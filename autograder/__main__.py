"""Command line: python -m autograder {build,grade,all,report,inspect,gradescope,check} ..."""

import argparse
import json
import sys

from .assignment import DEFAULT, get


def positive(text):
    """An argparse type: a whole number above 0."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    which = argparse.ArgumentParser(add_help=False)
    which.add_argument("--assignment", default=DEFAULT, help=f"the assignment (source/NAME/; default: {DEFAULT})")
    grading = argparse.ArgumentParser(add_help=False, parents=[which])
    grading.add_argument("--workers", type=positive, help="parallel gradings (default: the number of cores)")
    grading.add_argument("--out", help="folder for final_grades.csv and feedback/ (default: autograder/dist/NAME-grades)")
    grading.add_argument("--timeout", type=positive, metavar="SECONDS", help="seconds one submission may take, then "
                         "it gets a row of zeros (default: 600, Gradescope's default limit)")
    sub.add_parser("build", parents=[which], help="build the release, the autograder zip and the sample submissions")
    grade = sub.add_parser("grade", parents=[grading], help="grade submissions (zips, notebooks, folders of loose "
                           "files, or folders of those) with the built autograder, as Gradescope runs it, in parallel")
    grade.add_argument("submissions", nargs="*", help="default: the sample submissions")
    sub.add_parser("all", parents=[grading], help="build, then grade the sample submissions (the README's "
                   "main job)").set_defaults(submissions=None)
    report = sub.add_parser("report", parents=[which], help="the instructor's page after `grade`: per question, the "
                            "scores and the problem codes students hit, most hit first, with their misconceptions")
    report.add_argument("grades", metavar="GRADES_DIR", help="the folder `grade` wrote (its --out)")
    inspect = sub.add_parser("inspect", parents=[which], help="inspect checkpoint files: one JSON object per "
                             "file; exit 0 if all are ok, 1 otherwise")
    inspect.add_argument("paths", nargs="+")
    gradescope = sub.add_parser("gradescope", help="grade one upload exactly as Gradescope runs the zip, at "
                                "/autograder in a private mount namespace (root only)")
    gradescope.add_argument("upload", help="the export zip, a notebook, or a folder of loose files")
    gradescope.add_argument("--zip", help="the autograder zip (default: the built one)")
    gradescope.add_argument("--as-zip-file", action="store_true", help="hand the zip over as a file, not unpacked")
    check = sub.add_parser("check", parents=[which], help="grade submitted files: one JSON verdict per line "
                           "(used by the graders, isolate.py)")
    check.add_argument("names", nargs="*")
    check.add_argument("--submitted", default=".", help="the folder that holds checkpoints/")
    check.add_argument("--kernel-free", action="store_true", help="then run the test cases of the tests on stdin "
                       "that the grader judges (kernel-free or on observed variables) in this folder, and print "
                       "their outcome")
    args = parser.parse_args(argv)

    if args.command == "inspect":
        describe = get(args.assignment).lesson.describe
        reports = [describe(p) for p in args.paths]
        for r in reports:
            print(json.dumps(r))
        return 0 if all(r["ok"] for r in reports) else 1
    if args.command == "report":
        from . import class_report

        return class_report.main(args.grades, args.assignment)
    if args.command == "check":
        from . import checker

        return checker.main(get(args.assignment), args.names, args.submitted, args.kernel_free)
    if args.command == "gradescope":
        from . import emulate

        return emulate.main(args.upload, args.zip, as_zip_file=args.as_zip_file)
    if args.command in ("build", "all"):
        from . import build

        build.main(get(args.assignment))
    if args.command in ("grade", "all"):
        from . import grade

        return grade.main(args.submissions, args.out, args.workers, args.assignment, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
