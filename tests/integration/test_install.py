"""What a person installs: the man pages say what --help says, --version says what meson.build
declares, and `meson install` puts the programs, pages, example configs and systemd units where
the units expect them. (tests/packaging/ checks the installed units and the Debian packages
with systemd's and Debian's own tools.)"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lib import procs as P

REPO = Path(__file__).resolve().parents[2]
MAN = {"ngrnotokd": REPO / "docs" / "man" / "ngrnotokd.8",
       "ngrnotok": REPO / "docs" / "man" / "ngrnotok.1"}
# An option's name where it stands alone: not inside a longer option or a word.
OPT_RE = r"(?<![\w-])%s(?![\w-])"


def meson_info(name):
    with open(P.build_dir() / "meson-info" / ("intro-%s.json" % name)) as f:
        return json.load(f)


def help_text(program):
    r = P.run_cli(["--help"], binary_name=program)
    assert r.returncode == 0, "%s --help exited %d: %r" % (program, r.returncode, r.stderr)
    return r.stdout


def help_items(text, program):
    """The options of --help's option lines (indented by at most 6 spaces, starting with '-':
    '  -c, --config FILE', '      --pool'), and the commands of its Usage lines ('ngrnotok
    start ... | --all', 'ngrnotok config set-token TOKEN | ... | path')."""
    items = set()
    usage = True
    for line in text.splitlines():
        if usage and not line.strip():
            usage = False
        if usage:
            rest = line.split(program, 1)[1] if program in line else ""
            items.update(re.findall(r"(?<![\w:-])(--[a-z][a-z-]*|[a-z][a-z-]*)(?![\w:-])", rest))
            continue
        if re.match(r"^ {2,6}-", line):
            spec = re.split(r"\s{2,}", line.strip())[0]  # the option, not its description
            items.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", spec))
    return items


def man_text(program):
    if shutil.which("mandoc") is None:
        pytest.skip("mandoc is not installed (apt-get install mandoc): it renders the man pages")
    r = subprocess.run(["mandoc", "-Tascii", "-Owidth=1000", str(MAN[program])],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "mandoc %s: %s" % (MAN[program].name, r.stderr)
    return re.sub(r".\x08", "", r.stdout)  # no overstrikes (bold, underline)


def man_flags(program):
    """The options the page describes: each 'Fl X' of its '.It' lines, as --X or -X."""
    flags = set()
    for line in MAN[program].read_text().splitlines():
        if line.startswith(".It "):
            for f in re.findall(r"\bFl\s+(\S+)", line):
                flags.add("-" + f)
    return flags


@pytest.mark.parametrize("program", ["ngrnotokd", "ngrnotok"])
def test_every_help_option_is_in_the_man_page(binaries, program):
    items = help_items(help_text(program), program)
    assert len(items) > 15 and "--help" in items and "-V" in items, (
        "could not read %s --help's options: %r" % (program, sorted(items)))
    page = man_text(program)
    missing = sorted(i for i in items if not re.search(OPT_RE % re.escape(i), page))
    assert not missing, "%s --help has, but %s does not mention: %s" % (
        program, MAN[program].name, ", ".join(missing))


@pytest.mark.parametrize("program", ["ngrnotokd", "ngrnotok"])
def test_man_page_describes_no_option_help_lacks(binaries, program):
    items = help_items(help_text(program), program)
    flags = man_flags(program)
    assert "--help" in flags, "no '.It Fl -help' read from %s" % MAN[program].name
    stale = sorted(flags - items)
    assert not stale, "%s describes options %s --help does not have: %s" % (
        MAN[program].name, program, ", ".join(stale))


def test_version_is_meson_project_version(binaries):
    version = meson_info("projectinfo")["version"]
    for program in ("ngrnotokd", "ngrnotok"):
        r = P.run_cli(["--version"], binary_name=program)
        assert r.returncode == 0, "%s --version exited %d" % (program, r.returncode)
        assert re.match(r"%s %s \(protocol \d+\)$" % (program, re.escape(version)),
                        r.stdout.strip()), (
            "%s --version says %r; meson.build declares %s" % (program, r.stdout, version))
    # The Debian package carries the same version (a native package: no revision).
    first = (REPO / "debian" / "changelog").read_text().splitlines()[0]
    m = re.match(r"ngrnotok \((?:\d+:)?([^)-]+)(?:-[^)]*)?\)", first)
    assert m and m.group(1) == version, (
        "debian/changelog's version (%r) is not meson.build's %s" % (first, version))


def unit_settings(path):
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def test_meson_install_puts_everything_where_the_units_say(binaries, tmp_path):
    build = P.build_dir()
    dest = tmp_path / "root"
    r = subprocess.run(["meson", "install", "-C", str(build), "--destdir", str(dest),
                        "--no-rebuild", "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "meson install --destdir failed:\n%s%s" % (r.stdout, r.stderr)
    opts = {o["name"]: o["value"] for o in meson_info("buildoptions")}
    prefix = Path(opts["prefix"])
    bindir, mandir, etc = (prefix / opts[k] for k in ("bindir", "mandir", "sysconfdir"))
    under = lambda p: dest / Path(p).relative_to("/")  # noqa: E731

    for program, section in (("ngrnotokd", 8), ("ngrnotok", 1)):
        exe = under(bindir / program)
        assert os.access(exe, os.X_OK), "%s not installed as %s" % (program, bindir / program)
        page = under(mandir / ("man%d" % section) / ("%s.%d" % (program, section)))
        assert page.read_bytes() == MAN[program].read_bytes(), "%s: not %s" % (
            page, MAN[program])
    for conf in ("ngrnotokd.conf", "ngrnotok.conf"):
        assert (under(etc / "ngrnotok" / conf).read_bytes()
                == (REPO / "config" / conf).read_bytes()), "%s not installed" % conf
    assert under(etc / "ngrnotok" / "ngrnotok.conf").stat().st_mode & 0o077 == 0, (
        "the client's config (it may hold a token) is readable by others once installed")

    # The units: in the directory systemd.pc names (unless -Dsystemdunitdir says otherwise).
    unitdir = opts["systemdunitdir"]
    if not unitdir:
        pc = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                            capture_output=True, text=True)
        unitdir = pc.stdout.strip() if pc.returncode == 0 else str(prefix / "lib/systemd/system")
    notify = any(d["name"] == "libsystemd" for d in meson_info("dependencies"))
    for program, section in (("ngrnotokd", 8), ("ngrnotok", 1)):
        unit = under(Path(unitdir) / (program + ".service"))
        assert unit.is_file(), "%s.service not installed in %s" % (program, unitdir)
        s = unit_settings(unit)
        assert not re.search(r"@\w+@", unit.read_text()), (
            "%s has a placeholder left:\n%s" % (unit.name, unit.read_text()))
        argv = s["ExecStart"][0].split()
        assert argv[0] == str(bindir / program), "%s runs %s" % (unit.name, argv[0])
        assert s["Documentation"] == ["man:%s(%d)" % (program, section)], s["Documentation"]
        assert s["DynamicUser"] == ["yes"] and s["ProtectSystem"] == ["strict"], unit.name
        conf = str(etc / "ngrnotok" / (program + ".conf"))
        if program == "ngrnotokd":
            assert argv[1:] == ["--config", conf], "%s: %r" % (unit.name, argv)
            assert s["Type"] == ["notify" if notify else "exec"], (
                "%s is Type=%s in a build %s libsystemd" % (
                    unit.name, s["Type"], "with" if notify else "without"))
            assert s["StateDirectory"] == ["ngrnotok"], s["StateDirectory"]
            assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"], s["ExecReload"]
        else:
            assert argv[1:] == ["start", "--all", "--config",
                                "${CREDENTIALS_DIRECTORY}/ngrnotok.conf"], argv
            assert s["LoadCredential"] == ["ngrnotok.conf:" + conf], s["LoadCredential"]
        assert under(conf).is_file(), "%s reads %s, which is not installed" % (unit.name, conf)
