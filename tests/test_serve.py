"""`portal serve` answers real HTTP with a production server."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from portal.transparency.cosign import WitnessPolicy


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_demo_over_http(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Portal running on" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in output
        assert "person@demo.example" in output
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
                    assert response.status == 200
                    assert response.headers["Server"] == "portal"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not answer")
        # On a loopback address, over plain HTTP: the session cookie is not Secure
        # (the browser would drop it), and no HSTS.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as response:
            cookie = response.headers["Set-Cookie"]
            assert cookie.startswith("session=")
            assert "Secure" not in cookie
            assert "Strict-Transport-Security" not in response.headers
        # A witness runs beside the demo and vouches for its log.
        assert "Demo witness demo-witness.example/w1 cosigning the log" in output
        witnesses = json.loads(answers(port, "/transparency/witnesses")[1])
        policy = WitnessPolicy.parse(
            json.dumps(
                {"quorum": witnesses["quorum"], "witnesses": [{"key": w["key"]} for w in witnesses["witnesses"]]}
            )
        )
        assert policy.quorum == 1
        for _ in range(100):
            status, note = answers(port, "/transparency/checkpoint", ok=(200, 503))
            if status == 200:
                break
            time.sleep(0.1)
        assert list(policy.check(note)) == ["demo-witness.example/w1"]
        children = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True, text=True)
        witness_pid = next(int(line.split()[0]) for line in children.stdout.splitlines() if "witness serve" in line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not running(witness_pid)  # stopped with the portal


def running(pid):
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def start(tmp_path, *args, cwd=None):
    """`portal <args>` on a fresh demo instance; returns the process once it
    says it is running, with its output so far."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "portal", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Portal running on" in line:
            break
    return proc, env, "".join(lines)


def answers(port, path="/", ok=(200,)):
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return exc.code, exc.read().decode()
            raise
        except OSError:
            time.sleep(0.1)
    pytest.fail("server did not answer")


@pytest.mark.slow
def test_serve_with_worker_processes_and_the_job_worker(tmp_path):
    """--workers 2: gunicorn's processes answer (the demo's outbox too), and
    a `portal worker` runs beside them until the server stops; the worker is
    the portal that serves, even when started from a folder holding another
    `portal` (a checkout of another version)."""
    decoy = tmp_path / "elsewhere" / "portal"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('another portal was imported')\n")
    port = free_port()
    proc, env, output = start(tmp_path, "serve", "--demo", "--workers", "2", "--port", str(port), cwd=decoy.parent)
    try:
        assert f"http://127.0.0.1:{port}/" in output
        assert answers(port)[0] == 200
        assert answers(port, "/demo/outbox")[0] == 200  # demo mode reaches the worker processes
        children = subprocess.run(["ps", "-o", "args=", "--ppid", str(proc.pid)], capture_output=True, text=True)
        assert "portal worker" in children.stdout
        # The job worker says which jobs it runs once it is up.
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        for _ in range(600):
            if any(line.startswith("portal worker:") for line in lines):
                break
            time.sleep(0.1)
        assert any(
            line.startswith(
                "portal worker: log integration, query notices, codes and links, witness cosigning, "
                "dispute deadline sweep"
            )
            for line in lines
        ), lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_the_worker_runs_each_job_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    run = [sys.executable, "-m", "portal"]
    subprocess.run([*run, "init"], env=env, check=True, capture_output=True)
    done = subprocess.run([*run, "worker", "--once"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "portal worker: log integration, query notices, codes and links, dispute deadline sweep" in done.stdout
    assert "log integration: 0, query notices: 0, codes and links: 0, dispute deadline sweep: 0" in done.stdout
    refused = subprocess.run(
        [*run, "worker", "--once"], env={**env, "PORTAL_DATABASE_URL": "sqlite:////nonexistent/db"}, capture_output=True
    )
    assert refused.returncode != 0
