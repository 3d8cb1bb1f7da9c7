"""Command line: python -m autograder {build,grade,all,check,inspect} ..."""

import argparse
import json
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the release, the autograder zip and the sample submissions")
    grade = sub.add_parser("grade", help="grade submissions (zips or notebooks) with the built autograder")
    grade.add_argument("submissions", nargs="*", help="default: the sample submissions")
    sub.add_parser("all", help="build, then grade the sample submissions (the README's main job)")
    check = sub.add_parser("check", help="run one grading check (used by the hidden tests)")
    check.add_argument("name")
    check.add_argument("--submitted", default=".")
    check.add_argument("--regenerated", default=".")
    check.add_argument("--values", default="{}", help="JSON values from the notebook")
    args = parser.parse_args(argv)

    if args.command == "check":
        from . import checks

        return checks.main(args.name, args.submitted, args.regenerated, json.loads(args.values))
    if args.command in ("build", "all"):
        from . import build

        build.main()
    if args.command in ("grade", "all"):
        from . import grade

        return grade.main(getattr(args, "submissions", None) or None)


if __name__ == "__main__":
    sys.exit(main())
