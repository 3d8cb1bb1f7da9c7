"""Command line: python -m autograder {build,grade,all,check,inspect} ..."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the release, the autograder zip and the sample submissions")
    grade = sub.add_parser("grade", help="grade submissions (zips or notebooks) with the built autograder")
    grade.add_argument("submissions", nargs="*", help="default: the sample submissions")
    sub.add_parser("all", help="build, then grade the sample submissions (the README's main job)")
    check = sub.add_parser("check", help="grade submitted files: one JSON verdict per line (used by the plugin)")
    check.add_argument("names", nargs="+")
    check.add_argument("--submitted", default=".", help="the folder that holds checkpoints/")
    args = parser.parse_args(argv)

    if args.command == "check":
        from . import checks

        return checks.main(args.names, args.submitted)
    if args.command in ("build", "all"):
        from . import build

        build.main()
    if args.command in ("grade", "all"):
        from . import grade

        return grade.main(getattr(args, "submissions", None) or None)


if __name__ == "__main__":
    sys.exit(main())
