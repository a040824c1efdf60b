#!/usr/bin/python3
"""A GitHub Actions runner's worker, as far as cgfw's action can tell: it runs the action's main
step (node dist/main.js) as its child, then each later step (a shell command) as its child, then
the post step (node dist/post.js) with main's saved state, giving each step fresh file-command
files (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE, GITHUB_STEP_SUMMARY) the way the runner does, and
the variables earlier steps exported. Prints one JSON object describing what every step did.

Usage: fake_runner.py --dist DIR --workspace DIR --temp DIR [--input NAME=VALUE]...
                      [--step COMMAND]...
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def parse_file_commands(path):
    """NAME=VALUE lines and NAME<<DELIMITER ... DELIMITER blocks (@actions/core's format)."""
    values = {}
    if not os.path.exists(path):
        return values
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delimiter = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


class Runner:
    def __init__(self, args):
        self.args = args
        self.exported = {}  # GITHUB_ENV of earlier steps
        self.state = {}  # main's GITHUB_STATE, for post

    def step_env(self, files, extra):
        env = dict(os.environ)
        env.update(self.exported)
        env.update(
            {
                "GITHUB_ACTIONS": "true",
                "RUNNER_TEMP": self.args.temp,
                "GITHUB_WORKSPACE": self.args.workspace,
                "GITHUB_OUTPUT": files["output"],
                "GITHUB_ENV": files["env"],
                "GITHUB_STATE": files["state"],
                "GITHUB_STEP_SUMMARY": files["summary"],
            }
        )
        env.update(extra)
        return env

    def run_step(self, name, argv, extra_env):
        directory = tempfile.mkdtemp(prefix=name + "-", dir=self.args.temp)
        files = {k: os.path.join(directory, k) for k in ("output", "env", "state", "summary")}
        for path in files.values():
            open(path, "w").close()
        result = subprocess.run(
            argv,
            env=self.step_env(files, extra_env),
            cwd=self.args.workspace,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.exported.update(parse_file_commands(files["env"]))
        return {
            "exit": result.returncode,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "outputs": parse_file_commands(files["output"]),
            "state": parse_file_commands(files["state"]),
            "summary": open(files["summary"], encoding="utf-8").read(),
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dist", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--temp", required=True)
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--step", action="append", default=[])
    args = parser.parse_args()

    inputs = {}
    for item in args.input:
        name, value = item.split("=", 1)
        inputs["INPUT_" + name.upper().replace(" ", "_")] = value.replace("\\n", "\n")

    runner = Runner(args)
    report = {"worker_pid": os.getpid()}
    report["main"] = runner.run_step("main", ["node", os.path.join(args.dist, "main.js")], inputs)
    state = {"STATE_" + k: v for k, v in report["main"]["state"].items()}
    report["steps"] = [
        runner.run_step("step%d" % i, ["bash", "-e", "-c", command], {})
        for i, command in enumerate(args.step)
    ]
    report["post"] = runner.run_step(
        "post", ["node", os.path.join(args.dist, "post.js")], dict(inputs, **state)
    )
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
