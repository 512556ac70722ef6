"""A stand-in for `python -m trainer` that plays a script, for tests of the trainer process and the wizard's
training page (crashes, garbage, partial lines and Stop are hard to provoke in the real trainer on cue).

Usage: python fake_trainer.py SCRIPT.json [trainer arguments…]. The script is {"run": [steps], "resume": [steps]};
"resume" is played when --resume is among the arguments. Each call's arguments are appended to SCRIPT.json.args
as one JSON line. Steps:
  {"event": …}             printed as one JSON line on stdout; a relative "path" or "model" is made absolute
                           against the --config file's folder (the run folder), as the trainer's paths are
  {"raw": "text"}          written to stdout as is (no newline added)
  {"stderr": "text"}       one line on stderr
  {"sleep": seconds}
  {"exit": code}
  {"crash": true}          killed by SIGKILL (as the kernel's OOM killer does)
  {"touch": "path"}        create an empty file (a checkpoint, say), and its folders
  {"copy": ["from", "to"]} copy a file (a real checkpoint, say), making the folders of "to"
  {"wait_for_stop": [steps]}  wait for SIGTERM/SIGINT, then play these steps and exit 130, as the trainer does
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path


def play(steps: list[dict], run_dir: Path) -> None:
    for step in steps:
        if "event" in step:
            for key in ("path", "model"):
                if isinstance(step.get(key), str) and not Path(step[key]).is_absolute():
                    step[key] = str(run_dir / step[key])
            print(json.dumps(step), flush=True)
        elif "raw" in step:
            sys.stdout.write(step["raw"])
            sys.stdout.flush()
        elif "stderr" in step:
            print(step["stderr"], file=sys.stderr, flush=True)
        elif "sleep" in step:
            time.sleep(step["sleep"])
        elif "exit" in step:
            sys.exit(step["exit"])
        elif "touch" in step:
            Path(step["touch"]).parent.mkdir(parents=True, exist_ok=True)
            Path(step["touch"]).touch()
        elif "copy" in step:
            source, target = (Path(p) for p in step["copy"])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        elif "crash" in step:
            os.kill(os.getpid(), signal.SIGKILL)
        elif "wait_for_stop" in step:
            stopped = []
            signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
            signal.signal(signal.SIGINT, lambda signum, _frame: stopped.append(signum))
            while not stopped:
                time.sleep(0.02)
            play(step["wait_for_stop"], run_dir)
            sys.exit(130)


def main() -> int:
    script_path = Path(sys.argv[1])
    arguments = sys.argv[2:]
    with open(f"{script_path}.args", "a", encoding="utf-8") as record:
        record.write(json.dumps(arguments) + "\n")
    script = json.loads(script_path.read_text(encoding="utf-8"))
    run_dir = Path(arguments[arguments.index("--config") + 1]).parent if "--config" in arguments else Path.cwd()
    play(script["resume" if "--resume" in arguments else "run"], run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
