#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Runs a program on a pseudo-terminal, as a person at a terminal would: waits until its screen
# shows EXPECT, types KEYS, and waits for it to exit. Prints {"code": N, "screen": "..."} as JSON
# (code null when it did not exit in time; it is then killed). For dw top's test.
#
# Usage: pty_session.py SECONDS EXPECT KEYS PROGRAM [ARGS...]
import json
import os
import pty
import select
import signal
import sys
import time


def main():
    seconds, expect, keys, argv = float(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    deadline = time.monotonic() + seconds
    screen = b""
    typed = False
    code = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the program closed the terminal: it ended
                chunk = b""
            if not chunk:
                break
            screen += chunk
        if not typed and expect in screen:
            for key in keys:  # one at a time, as typed
                os.write(fd, key.encode())
                time.sleep(0.2)
            typed = True
    ended, status = os.waitpid(pid, 0 if time.monotonic() < deadline else os.WNOHANG)
    if ended == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    else:
        code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"code": code, "typed": typed, "screen": screen.decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()
