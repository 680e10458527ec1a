#!/usr/bin/env python3
"""test_install.py - what `meson install` puts on a machine.

Installs the build directory (argument 1; else the directory of $VMNETD,
the build's top level) into a fresh DESTDIR, never into the real root, and
checks: vmnetd (and vmnetctl, once src/vmnetctl.c exists) installed and
running; the manual pages installed and rendering without a groff warning;
the systemd units (when libsystemd is here, unless -Dsystemd=disabled:
the daemon's systemd support) with @bindir@ replaced by the
real directory and, where systemd-analyze exists, no complaint about their
contents; the shell completions (once data/completion/ exists).
Needs no root.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import VMNETD, StepSkipped, check, run_steps, skip

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "../.."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(VMNETD))

SYSTEM_UNITS = ["vmnetd.service", "vmnetd.socket", "vmnetd-api.socket"]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, **kw)


def meson_cmd():
    meson = shutil.which("meson")
    if not meson:
        skip("meson is not in PATH")
    return meson


def build_options(meson):
    r = run([meson, "introspect", "--buildoptions", BUILD])
    check(r.returncode == 0, f"meson introspect --buildoptions failed:\n{r.stderr}")
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def main():
    meson = meson_cmd()
    if not os.path.exists(os.path.join(BUILD, "meson-private", "coredata.dat")):
        skip(f"{BUILD} is not a meson build directory")
    opts = build_options(meson)
    prefix = opts["prefix"]
    check(os.path.isabs(prefix), f"prefix {prefix!r} is not absolute")
    bindir = os.path.join(prefix, opts["bindir"])
    mandir = os.path.join(prefix, opts["mandir"])
    systemd = opts.get("systemd", "auto")

    def units_expected():
        """The units come with the daemon's systemd support: libsystemd,
        unless -Dsystemd=disabled."""
        if systemd == "disabled":
            units_expected.why = "built with -Dsystemd=disabled"
            return False
        if not shutil.which("pkg-config"):
            raise StepSkipped("no pkg-config to tell whether libsystemd is here")
        if run(["pkg-config", "--exists", "libsystemd"]).returncode != 0:
            units_expected.why = "no libsystemd here, so no systemd support"
            return False
        return True

    with tempfile.TemporaryDirectory(prefix="vmnetd-install-") as destdir:
        root = os.path.join(destdir, "root")

        def inst(path):
            """Where an absolute installed path lands in DESTDIR."""
            return os.path.join(root, path.lstrip("/"))

        def installed_files():
            for d, _, names in os.walk(root):
                for n in names:
                    yield os.path.join(d, n)

        def install():
            # --destdir always: this test must never write outside its
            # temporary directory. --no-rebuild: meson test built it all.
            r = run([meson, "install", "-C", BUILD, "--no-rebuild", "--destdir", root])
            check(r.returncode == 0, f"meson install failed ({r.returncode}):\n"
                  f"{r.stdout[-3000:]}{r.stderr[-3000:]}")
            check(os.path.isdir(root), "meson install created nothing")

        def binaries():
            vmnetd = inst(os.path.join(bindir, "vmnetd"))
            check(os.access(vmnetd, os.X_OK), f"{vmnetd} is not installed or not executable")
            r = run([vmnetd, "--version"])
            check(r.returncode == 0 and r.stdout.startswith("vmnetd "),
                  f"installed vmnetd --version: {r.returncode}\n{r.stdout}{r.stderr}")
            vmnetctl = inst(os.path.join(bindir, "vmnetctl"))
            if not os.path.exists(os.path.join(SOURCE, "src", "vmnetctl.c")):
                raise StepSkipped("no src/vmnetctl.c yet (vmnetd checked)")
            check(os.access(vmnetctl, os.X_OK), f"{vmnetctl} is not installed or not executable")

        def man_pages():
            pages = [inst(os.path.join(mandir, "man8", "vmnetd.8")),
                     inst(os.path.join(mandir, "man1", "vmnetctl.1"))]
            for page in pages:
                check(os.path.isfile(page) and os.path.getsize(page) > 0,
                      f"{page} is missing or empty")
                text = read(page)
                check("SPDX-License-Identifier: GPL-2.0-or-later" in text,
                      f"{page}: no SPDX line")
                for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS",
                                "EXAMPLES", "SEE ALSO"):
                    check(f".SH {section}" in text, f"{page}: no {section} section")
            checked = []
            if shutil.which("groff"):
                for page in pages:
                    r = run(["groff", "-man", "-Tutf8", "-ww", "-z", page])
                    check(r.returncode == 0 and not r.stderr.strip(),
                          f"groff warns about {page}:\n{r.stderr}")
                checked.append("groff")
            if shutil.which("man"):
                env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80",
                           LC_ALL="C.UTF-8")
                for page in pages:
                    r = run(["man", "-l", page], env=env)
                    name = os.path.basename(page).split(".")[0]
                    check(r.returncode == 0 and "NAME" in r.stdout and name in r.stdout,
                          f"man -l {page}: exit {r.returncode}\n{r.stderr}")
                checked.append("man")
            if not checked:
                raise StepSkipped("neither groff nor man here: pages only found non-empty")

        def units():
            units = {}
            for path in installed_files():
                parent = os.path.basename(os.path.dirname(path))
                if (os.path.basename(os.path.dirname(os.path.dirname(path))) == "systemd"
                        and parent in ("system", "user")):
                    units[(parent, os.path.basename(path))] = path
            if not units_expected():
                check(not units, f"no systemd support, yet units installed: {sorted(units)}")
                raise StepSkipped(f"{units_expected.why}: no units, as it should be")
            for kind in ("system", "user"):
                for name in SYSTEM_UNITS:
                    check((kind, name) in units, f"no {kind} unit {name} installed "
                          f"(installed: {sorted(units)})")
            for (kind, name), path in units.items():
                text = read(path)
                check(not re.search(r"@[A-Za-z_]+@", text),
                      f"{path}: a placeholder was not substituted:\n{text}")
                if name.endswith(".service"):
                    check(f"ExecStart={bindir}/vmnetd" in text,
                          f"{path}: ExecStart is not {bindir}/vmnetd:\n{text}")
                    check("Type=notify" in text and "ExecReload=" in text,
                          f"{path}: not Type=notify with a reload")
            sock_dir = {"system": "/run/vmnetd", "user": "%t/vmnetd"}
            for kind in ("system", "user"):
                data = read(units[(kind, "vmnetd.socket")])
                api = read(units[(kind, "vmnetd-api.socket")])
                check(f"ListenStream={sock_dir[kind]}/default.sock" in data
                      and "FileDescriptorName=default" in data,
                      f"{kind} vmnetd.socket: not default.sock named default:\n{data}")
                check(f"ListenStream={sock_dir[kind]}/default.api" in api
                      and "FileDescriptorName=api" in api
                      and "Service=vmnetd.service" in api,
                      f"{kind} vmnetd-api.socket: not default.api named api:\n{api}")

        def units_verify():
            if not units_expected():
                raise StepSkipped(units_expected.why)
            analyze = shutil.which("systemd-analyze")
            if not analyze:
                raise StepSkipped("systemd-analyze is not installed")
            # verify wants ExecStart= to exist: point it at the DESTDIR copy.
            for kind in ("system", "user"):
                unit_dir = next(os.path.dirname(p) for p in installed_files()
                                if p.endswith(f"/systemd/{kind}/vmnetd.service"))
                work = os.path.join(destdir, f"verify-{kind}")
                os.makedirs(work)
                xdg = os.path.join(destdir, "xdg-runtime")
                os.makedirs(xdg, mode=0o700, exist_ok=True)
                for name in SYSTEM_UNITS:
                    text = read(os.path.join(unit_dir, name))
                    text = text.replace(f"ExecStart={bindir}/",
                                        f"ExecStart={inst(bindir)}/")
                    with open(os.path.join(work, name), "w") as f:
                        f.write(text)
                argv = [analyze] + (["--user"] if kind == "user" else []) + \
                    ["verify", "--man=no"] + [os.path.join(work, n) for n in SYSTEM_UNITS]
                r = run(argv, cwd=work, env=dict(os.environ, XDG_RUNTIME_DIR=xdg))
                # Complaints about the files' contents name a file and line, or
                # a key or value; others are about this machine (no running
                # systemd, a missing target) and only reported.
                bad = [line for line in r.stderr.splitlines()
                       if any(m in line for m in (".service:", ".socket:"))
                       and any(w in line for w in ("Unknown", "Failed to parse", "Invalid",
                                                   "not executable", "ignoring"))]
                check(not bad, f"systemd-analyze {kind} verify:\n" + "\n".join(bad))
                for line in r.stderr.splitlines():
                    if line not in bad:
                        print(f"# systemd-analyze ({kind}): {line}")

        def completions():
            if not os.path.exists(os.path.join(SOURCE, "data", "completion", "meson.build")):
                raise StepSkipped("no data/completion/ in the source tree yet")
            found = [p for p in installed_files()
                     if os.path.basename(p) in ("vmnetctl", "_vmnetctl", "vmnetctl.fish",
                                                "vmnetctl.bash", "vmnetd", "_vmnetd",
                                                "vmnetd.fish", "vmnetd.bash")
                     and "/bin/" not in p]
            check(found, "no shell completion installed (looked for vmnetctl, _vmnetctl, "
                  "vmnetctl.fish, ... outside bin/)")
            for p in found:
                check(os.path.getsize(p) > 0, f"{p} is empty")
                if "bash-completion" in p or p.endswith(".bash"):
                    r = run(["bash", "-n", p])
                    check(r.returncode == 0, f"bash -n {p}:\n{r.stderr}")
            print("# completions: " + ", ".join(os.path.relpath(p, root) for p in found))

        return run_steps([
            ("meson install into a DESTDIR", install),
            ("binaries installed and run", binaries),
            ("manual pages installed and render", man_pages),
            ("systemd units installed, @bindir@ substituted", units),
            ("systemd-analyze verify finds nothing wrong", units_verify),
            ("shell completions installed", completions),
        ])


if __name__ == "__main__":
    sys.exit(main())
