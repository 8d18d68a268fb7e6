"""Faults: the daemon is killed, its disk fills, its folders vanish, its database breaks.

xintud moves people's only copies of their photos, so after every fault below each photo must
exist exactly once (by sha256), whole, with no temp file left, and the daemon must keep working.
Everything runs the real daemon (tests/daemonrun.py) on real files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.daemon_tree import DaemonTree, wait_for
from tests.support.images import phone_picture_bytes, write_jpeg
from tests.support.videos import movie_bytes

KILL_SEED = 20261129
KILL_PHOTOS = 200
KILL_POINTS = 20
KILL_TOP_UP = 25  # fewer photos than this waiting before a kill point: add as many
PART_GLOB = ".xintud-*.part"


# --- helpers ---------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_photos(folder: Path, count: int, first_seed: int = 0,
                size: tuple[int, int] = (96, 72),
                companions: dict[str, str] | None = None) -> dict[str, str]:
    """`count` distinct small JPEGs and HEICs in `folder`; returns sha256 → file name. With
    `companions`, every HEIC is a Live Photo: its .MOV is written first and noted there."""
    photos: dict[str, str] = {}
    for i in range(count):
        if i % 4 == 3:  # an iPhone's HEIC among the JPEGs
            path = folder / f"IMG_{first_seed + i:04d}.HEIC"
            if companions is not None:
                video = path.with_suffix(".MOV")
                video.write_bytes(movie_bytes(None, mdat_bytes=1000 + first_seed + i))
                companions[file_sha256(video)] = video.name
            path.write_bytes(phone_picture_bytes("HEIF", size, seed=first_seed + i))
        else:
            path = write_jpeg(folder / f"IMG_{first_seed + i:04d}.jpg", size=size,
                              seed=first_seed + i, quality=80 + i % 15)
        photos[file_sha256(path)] = path.name
    assert len(photos) == count, "the test photos must all be distinct"
    return photos


def tree_files(tree: DaemonTree) -> list[Path]:
    """Every regular file under the watch folders and the library (not the album folders)."""
    return tree.tree_files()


def part_files(tree: DaemonTree) -> list[Path]:
    """xintud's temp files (half-made copies) anywhere in the tree."""
    return [p for p in tree_files(tree) if p.match(PART_GLOB)]


def photo_counts(tree: DaemonTree) -> Counter[str]:
    """How many files hold each content (temp files left out)."""
    return Counter(file_sha256(p) for p in tree_files(tree) if not p.match(PART_GLOB))


def assert_every_photo_once(tree: DaemonTree, photos: dict[str, str]) -> None:
    """Each photo exactly once, whole (a truncated copy would be an unknown hash), no temp file."""
    assert part_files(tree) == [], "temp files left behind"
    counts = photo_counts(tree)
    unknown = set(counts) - set(photos)
    assert not unknown, f"{len(unknown)} files that are no photo of ours (truncated copies?)"
    missing = [photos[sha] for sha in photos if counts[sha] == 0]
    assert not missing, f"photos lost: {missing[:10]}"
    twice = [photos[sha] for sha in photos if counts[sha] > 1]
    assert not twice, f"photos in two places: {twice[:10]}"


def assert_no_photo_lost(tree: DaemonTree, photos: dict[str, str], *, atomic: bool) -> None:
    """Right after a crash: nothing lost and no visible file truncated. A same-filesystem move
    is one rename, so then every photo is also in exactly one place; across filesystems a crash
    between the verified copy and the unlink may leave two whole copies for recovery to settle."""
    counts = photo_counts(tree)
    assert set(counts) <= set(photos), "a truncated or foreign file is visible under a photo name"
    missing = [photos[sha] for sha in photos if counts[sha] == 0]
    assert not missing, f"photos lost: {missing[:10]}"
    if atomic:
        twice = [photos[sha] for sha in photos if counts[sha] > 1]
        assert not twice, f"photos in two places after a same-filesystem crash: {twice[:10]}"


def state_db(tree: DaemonTree) -> Path:
    """The daemon's state database in the tree."""
    return tree.base / "xdg-state" / "xintud" / "state.db"


@dataclass(frozen=True)
class ActionRow:
    """One journal row, as the test reads it straight from the database."""

    id: int
    kind: str
    sha256: str
    src: Path
    dst: Path
    state: str
    reverses: int | None
    part_of: int | None = None


def read_actions(tree: DaemonTree) -> list[ActionRow]:
    """The journal, read straight from the database (WAL lets this run beside the daemon)."""
    conn = sqlite3.connect(f"file:{state_db(tree)}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, kind, sha256, src, dst, state, reverses, part_of FROM "
                            "actions ORDER BY id").fetchall()
    finally:
        conn.close()
    return [ActionRow(int(r[0]), r[1], r[2], Path(r[3]), Path(r[4]), r[5], r[6], r[7])
            for r in rows]


def max_action_id(tree: DaemonTree, begun_only: bool = False) -> int:
    """The newest journal row's id (0 when there is none), read without disturbing the daemon;
    with begun_only, the newest action still under way."""
    where = " WHERE state = 'begun'" if begun_only else ""
    try:
        conn = sqlite3.connect(f"file:{state_db(tree)}?mode=ro", uri=True, timeout=0.5)
        try:
            row = conn.execute(f"SELECT MAX(id) FROM actions{where}").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0] or 0)


def assert_journal_matches_disk(tree: DaemonTree, photos: dict[str, str],
                                companions: dict[str, str] | None = None) -> Counter[str]:
    """Every photo moved by exactly one done action, whose destination holds it and whose
    source is gone; nothing left begun; every rolled-back or failed try was done later. Every
    companion moved by one done action part of its photo's, beside it under its name."""
    actions = read_actions(tree)
    states = Counter(a.state for a in actions)
    assert states["begun"] == 0, "journal actions left unfinished after recovery"
    by_id = {a.id: a for a in actions}
    members = [a for a in actions if a.state == "done" and a.part_of is not None]
    assert Counter(a.sha256 for a in members) == Counter(dict.fromkeys(companions or {}, 1))
    for member in members:
        photo = by_id[member.part_of]  # type: ignore[index]
        assert photo.state == "done" and member.dst.parent == photo.dst.parent, \
            f"{member.dst} is split from its photo {photo.dst}"
        assert member.dst.stem == photo.dst.stem and file_sha256(member.dst) == member.sha256
    done = [a for a in actions if a.state == "done" and a.kind == "move" and a.reverses is None
            and a.part_of is None]
    per_photo = Counter(a.sha256 for a in done)
    assert set(per_photo) == set(photos), "a photo's move is missing from the journal"
    twice = [photos[sha] for sha, n in per_photo.items() if n > 1]
    assert not twice, f"moved twice: {twice[:10]}"
    for action in done:
        assert action.dst.is_file(), f"journal says {action.dst} was filed, disk says no"
        assert file_sha256(action.dst) == action.sha256, f"{action.dst} is not what was moved"
        assert not action.src.exists(), f"{action.src} still there after a done move"
    for action in actions:
        if action.state in ("rolled_back", "failed") and action.part_of is None:
            assert per_photo[action.sha256] == 1, f"{action.src} was given up, never filed"
    records = read_records(tree)
    for action in done:
        assert records.get(action.sha256) == ("done", action.dst), \
            f"the record of {action.dst.name} disagrees with the journal"
    return states


def read_records(tree: DaemonTree) -> dict[str, tuple[str, Path]]:
    """sha256 → (state, path) of every file record, straight from the database."""
    conn = sqlite3.connect(f"file:{state_db(tree)}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT sha256, state, path FROM files").fetchall()
    finally:
        conn.close()
    return {sha: (state, Path(path)) for sha, state, path in rows if sha is not None}


def recovery_lines(log: str) -> tuple[int, int, int]:
    """From a log: unfinished actions settled at start, records finished from the journal at
    start, and starts that found a batch in flight."""
    settled = log.count("INFO recovered: ")
    recorded = log.count("filed just before the last stop")
    inflight = log.count("were in flight at the last stop")
    return settled, recorded, inflight


def kill9(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def wait_for_journal_progress(tree: DaemonTree, process: subprocess.Popen[bytes], since: int,
                              steps: int, begun_only: bool = False,
                              timeout: float = 30.0) -> None:
    """Return once the `steps`-th action after `since` is journaled (with begun_only: while it
    is still under way), or when there is nothing left to file; fail when photos wait and
    nothing moves."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if max_action_id(tree, begun_only) >= since + steps or not any(tree.camera.iterdir()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no filing progress in {timeout:.0f} s although photos "
                                 f"wait:\n{tree.logs()[-3000:]}")
        time.sleep(0.002)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "64m") -> Iterator[Path]:
    """A fresh tmpfs mounted at `path` (a second filesystem), unmounted afterwards; skips the
    test when this machine does not allow mounting."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8); not available here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# --- kill -9 while filing ----------------------------------------------------------------------


@dataclass
class KillFigures:
    """What the kill test did, for the report."""

    variant: str
    seed: int
    kills: int = 0
    by_mode: Counter[str] = field(default_factory=Counter)
    while_filing: int = 0  # kills that came with photos still waiting in the watch folder
    filed_when_killed: list[int] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)  # launch → socket answering


def top_up(tree: DaemonTree, photos: dict[str, str], companions: dict[str, str]) -> None:
    """Keep photos waiting, so that every kill comes while filing however fast this machine."""
    if sum(1 for _ in tree.camera.iterdir()) < KILL_TOP_UP:
        more = make_photos(tree.camera, KILL_TOP_UP, first_seed=len(photos),
                           companions=companions)
        assert not set(more) & set(photos), "the test photos must all be distinct"
        photos |= more


def kill_repeatedly(tree: DaemonTree, photos: dict[str, str], companions: dict[str, str],
                    rng: random.Random, figures: KillFigures, *, atomic: bool) -> None:
    """Start, let it file for a random while, kill -9; check nothing was lost; repeat.

    Three kinds of moment: (journal) within a few ms of the journal showing an action begun,
    so the kill lands inside a move — around the rename, the copy, the fsync, the verify, the
    unlink, the journal and record updates; (random) a random time after filing began, mostly
    while classifying; (startup) a random time after launch, before or during the recovery of
    the previous kill.
    """
    for point in range(KILL_POINTS):
        top_up(tree, photos, companions)
        mode = "startup" if point % 5 == 4 else ("random" if point % 2 else "journal")
        if mode == "startup":
            process = launch(tree, wait=False)
            typical = sorted(figures.start_seconds)[len(figures.start_seconds) // 2]
            time.sleep(rng.uniform(0.1, 1.0) * typical)
        else:
            began = time.monotonic()
            process = tree.start()
            figures.start_seconds.append(time.monotonic() - began)
            since = max_action_id(tree)
            if mode == "random":
                wait_for_journal_progress(tree, process, since, rng.randint(1, 8))
                time.sleep(rng.uniform(0.0, 0.25))
            else:
                wait_for_journal_progress(tree, process, since, rng.randint(1, 6),
                                          begun_only=True)
                time.sleep(rng.uniform(0.0, 0.004))
        if process.poll() is not None:
            raise AssertionError(f"daemon died by itself (code {process.returncode}):\n"
                                 f"{tree.logs()[-3000:]}")
        kill9(process)
        figures.kills += 1
        figures.by_mode[mode] += 1
        figures.while_filing += any(tree.camera.iterdir())
        figures.filed_when_killed.append(len(tree.library_files()))
        assert_no_photo_lost(tree, {**photos, **companions}, atomic=atomic)


def run_kill_test(tree: DaemonTree, variant: str, seed: int, *, atomic: bool) -> None:
    rng = random.Random(seed)
    print(f"kill test {variant}: seed {seed}, {KILL_PHOTOS} photos, {KILL_POINTS} kill points")
    companions: dict[str, str] = {}  # every HEIC's Live Photo video: moved as one set
    photos = make_photos(tree.camera, KILL_PHOTOS, companions=companions)
    figures = KillFigures(variant, seed)
    kill_repeatedly(tree, photos, companions, rng, figures, atomic=atomic)
    assert figures.while_filing == figures.kills, "every kill must come while filing"

    process = tree.start()
    try:
        wait_for(lambda: not any(tree.camera.iterdir()), timeout=180,
                 what="every photo filed after the last restart")
        wait_for(lambda: tree.status()["queue"] == 0, what="an empty queue")
        status = tree.status()
    finally:
        assert tree.stop(process) == 0, tree.logs()[-3000:]

    assert_every_photo_once(tree, {**photos, **companions})
    assert not any(tree.camera.iterdir()), "photos left in the watch folder"
    states = assert_journal_matches_disk(tree, photos, companions)
    assert status["processed"] == len(photos), status
    assert status["failed"] == 0, status
    assert sum(status["per_category"].values()) == len(photos), status
    settled, recorded, inflight = recovery_lines(tree.logs())
    print(f"kill test {variant}: {figures.kills} kills {dict(figures.by_mode)}, "
          f"{figures.while_filing} with photos still to file; photos filed at each kill "
          f"{figures.filed_when_killed}; at restart "
          f"{settled} unfinished actions settled, {recorded} records finished from the journal, "
          f"{inflight} batches found in flight; journal {dict(states)}; all {len(photos)} "
          "photos survived exactly once")


@pytest.mark.slow
def test_kill9_while_moving_within_one_filesystem(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    run_kill_test(tree, "same-fs", KILL_SEED, atomic=True)


@pytest.mark.slow
def test_kill9_while_moving_across_filesystems(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    with tmpfs(tree.library):
        assert os.stat(tree.library).st_dev != os.stat(tree.camera).st_dev
        run_kill_test(tree, "cross-fs", KILL_SEED + 1, atomic=False)


# --- the destination fails: full, read-only, deleted -------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill_filesystem(folder: Path) -> Path:
    """Write a filler file in `folder` until its filesystem says it is full."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_full_or_read_only_destination_fails_cleanly_and_is_retried(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    with tmpfs(tree.library, size="2m"):
        filler = fill_filesystem(tree.library)
        daemon = tree.start()
        try:
            full = write_jpeg(tree.camera / "IMG_full.jpg", size=(800, 600), seed=1, quality=95)
            full_sha = file_sha256(full)
            wait_for(lambda: "will try again" in tree.logs(), what="the failed move logged")
            assert "the disk is full" in tree.logs() and "free some space" in tree.logs()
            assert full.exists() and file_sha256(full) == full_sha, "the original must stay"
            assert part_files(tree) == []
            # (the log line comes just before the item is put back to wait for its retry)
            wait_for(lambda: tree.status()["queue"] == 1, what="the photo waiting for a retry")
            assert tree.status()["failed"] == 0

            # Waiting for the retry costs no CPU (the loop sleeps until the retry time; when it
            # spun, it used 0.1 s of CPU in these 3 s).
            time.sleep(1.0)
            before = cpu_seconds(daemon.pid)
            time.sleep(3.0)
            used = cpu_seconds(daemon.pid) - before
            assert used < 0.06, f"the daemon used {used:.2f} s of CPU while only waiting"

            # The destination turns read-only too: a second photo fails cleanly the same way.
            subprocess.run(["mount", "-o", "remount,ro", str(tree.library)], check=True)
            readonly = write_jpeg(tree.camera / "IMG_ro.jpg", size=(800, 600), seed=2)
            readonly_sha = file_sha256(readonly)
            wait_for(lambda: "read-only" in tree.logs(), what="the read-only failure logged")
            assert "remount it read-write" in tree.logs()
            assert readonly.exists() and file_sha256(readonly) == readonly_sha
            wait_for(lambda: tree.status()["queue"] == 2, what="both photos waiting")

            # Fixed: both are filed at their retry time (30 s after their failure).
            subprocess.run(["mount", "-o", "remount,rw", str(tree.library)], check=True)
            filler.unlink()
            wait_for(lambda: not full.exists() and not readonly.exists(), timeout=75,
                     what="both photos filed on retry")
            filed = {file_sha256(p) for p in tree.library_files()}
            assert {full_sha, readonly_sha} <= filed
            assert_every_photo_once(tree, {full_sha: full.name, readonly_sha: readonly.name})
            status = tree.status()
            assert status["processed"] == 2 and status["failed"] == 0 and status["queue"] == 0
        finally:
            assert tree.stop(daemon) == 0, tree.logs()


@pytest.mark.slow
def test_deleted_library_is_not_recreated_and_nothing_is_lost(tmp_path: Path) -> None:
    """A library folder that vanishes (moved away, or its drive unplugged) is not silently
    re-created — that could fill the wrong disk: photos wait, and are filed once it is back."""
    tree = DaemonTree(tmp_path)
    tree.write_config()
    daemon = tree.start()
    try:
        photos = make_photos(tree.camera, 2)
        wait_for(lambda: len(tree.library_files()) == 2, what="the first photos filed")
        moved_away = tree.base / "Xintu.moved"
        tree.library.rename(moved_away)
        photos |= make_photos(tree.camera, 2, first_seed=10)
        wait_for(lambda: "does not exist (is its drive unplugged?)" in tree.logs(),
                 what="the log saying the library is missing")
        assert not tree.library.exists(), "the library must not be re-created behind the user"
        assert len(list(tree.camera.iterdir())) == 2, "the new photos wait where they are"
        tree.library.mkdir()  # the drive is back
        wait_for(lambda: not any(tree.camera.iterdir()), timeout=90,
                 what="the waiting photos filed on their retry")
        counts = Counter(file_sha256(p) for folder in (tree.library, moved_away)
                         for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                         and not p.is_relative_to(folder / "Albums"))
        assert set(counts) == set(photos) and set(counts.values()) == {1}
        assert part_files(tree) == []
        assert tree.status()["processed"] == 4
    finally:
        assert tree.stop(daemon) == 0, tree.logs()


# --- the watch folder goes away ------------------------------------------------------------------


@pytest.mark.slow
def test_watch_folder_deleted_and_recreated_is_watched_again(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    daemon = tree.start()
    try:
        photos = make_photos(tree.camera, 1)
        wait_for(lambda: len(tree.library_files()) == 1, what="the first photo filed")
        shutil.rmtree(tree.camera)
        time.sleep(0.5)
        tree.camera.mkdir(exist_ok=True)  # a sync client makes it again (or the daemon did)
        time.sleep(0.5)
        photos |= make_photos(tree.camera, 1, first_seed=5)
        wait_for(lambda: len(tree.library_files()) == 2, timeout=30,
                 what="a photo in the re-created watch folder filed")
        # and deleted for good: the daemon carries on, and says so
        shutil.rmtree(tree.camera)
        shot = write_jpeg(tree.screenshots / "Screenshot_1.jpg", seed=9)
        photos[file_sha256(shot)] = shot.name
        wait_for(lambda: len(tree.library_files()) == 3, what="the other folder still watched")
        assert tree.status()["state"] == "running"
        assert_every_photo_once(tree, photos)
    finally:
        assert tree.stop(daemon) == 0, tree.logs()


# --- permission denied on a photo ----------------------------------------------------------------

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def drop_file_permission_override() -> None:
    """preexec_fn: drop root's power to ignore file permissions (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH leave the bounding set, so the exec'd program never has them); the
    process stays uid 0, so the tree, the socket's peer check and XINTUD_ALLOW_ROOT still fit."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def launch(tree: DaemonTree, preexec_fn: object = None,
           wait: bool = True) -> subprocess.Popen[bytes]:
    """Like DaemonTree.start, with an optional preexec_fn; wait=False returns at once."""
    log = tree.log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "xintud", "--config", str(tree.config)],
        env=tree.env(), stdout=log, stderr=subprocess.STDOUT, cwd=tree.base,
        preexec_fn=preexec_fn,  # type: ignore[arg-type]
    )
    if wait:
        def answering() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"daemon exited with {process.returncode}:\n{tree.logs()}")
            return tree.ctl("status").returncode == 0
        wait_for(answering, timeout=60, interval=0.2, what="the daemon's control socket")
    return process


def unprivileged() -> object:
    """A preexec_fn under which file permissions apply, or skip the test saying why."""
    if os.geteuid() != 0:
        return None
    probe = Path(tempfile.mkdtemp(prefix="xperm", dir="/tmp")) / "locked"
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        done = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}).read()"],
                              preexec_fn=drop_file_permission_override, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot drop root's file-permission override here ({exc})")
    finally:
        shutil.rmtree(probe.parent)
    if done.returncode == 0:
        pytest.skip("root still reads a mode-000 file after dropping CAP_DAC_OVERRIDE here")
    return drop_file_permission_override


@pytest.mark.slow
def test_unreadable_photo_and_unwritable_folder_fail_cleanly(tmp_path: Path) -> None:
    preexec = unprivileged()
    tree = DaemonTree(tmp_path)
    tree.write_config()
    photos = make_photos(tree.camera, 2)
    unreadable = write_jpeg(tree.camera / "IMG_secret.jpg", seed=40)
    unreadable_sha = file_sha256(unreadable)
    unreadable.chmod(0)
    stuck_dir = tree.camera / "readonly"
    stuck = write_jpeg(stuck_dir / "IMG_stuck.jpg", seed=41)
    stuck_sha = file_sha256(stuck)
    stuck_dir.chmod(0o555)  # the photo can be read but not moved out of its folder
    daemon = launch(tree, preexec)
    try:
        wait_for(lambda: len(tree.library_files()) == 2, what="the readable photos filed")
        wait_for(lambda: tree.status()["failed"] == 1, what="the unreadable photo recorded")
        wait_for(lambda: "will try again" in tree.logs(), what="the stuck photo's retry")
        log = tree.logs()
        assert "IMG_secret.jpg: cannot read (Permission denied); check its permissions" in log
        assert "permission denied" in log and "chmod u+w" in log  # the stuck one says what to do
        assert unreadable.exists() and stuck.exists() and file_sha256(stuck) == stuck_sha
        time.sleep(2.0)
        assert tree.logs().count("failed IMG_secret.jpg") == 1, "it must not loop on the file"
        status = tree.status()
        assert status["state"] == "running" and status["queue"] == 1, status

        # The user fixes the permission: the change is seen and the photo is filed.
        unreadable.chmod(0o644)
        wait_for(lambda: not unreadable.exists(), what="the photo filed once readable")
        photos[unreadable_sha] = unreadable.name
        photos[stuck_sha] = stuck.name
        assert_every_photo_once(tree, photos)
        assert tree.status()["failed"] == 0
    finally:
        stuck_dir.chmod(0o755)
        assert tree.stop(daemon) == 0, tree.logs()


# --- the state database: locked, corrupt ---------------------------------------------------------


def file_some_photos(tree: DaemonTree, count: int = 3) -> dict[str, str]:
    """Run the daemon once to file `count` photos (an undo history exists afterwards)."""
    daemon = tree.start()
    try:
        photos = make_photos(tree.camera, count)
        wait_for(lambda: len(tree.library_files()) == count, what="photos filed")
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    return photos


def run_to_exit(tree: DaemonTree, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Start a daemon that is expected to refuse; return how it ended."""
    return subprocess.run([sys.executable, "-m", "xintud", "--config", str(tree.config)],
                          env=tree.env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_locked_state_database(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    photos = file_some_photos(tree)
    holder = sqlite3.connect(state_db(tree), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # a sqlite3 shell left in a write transaction
        started = time.monotonic()
        refused = run_to_exit(tree)
        assert refused.returncode == 2, refused.stderr
        assert "is locked by another process" in refused.stderr
        assert str(state_db(tree)) in refused.stderr
        assert "Traceback" not in refused.stderr
        assert time.monotonic() - started < 30
    finally:
        holder.close()

    # Locked while running, for longer than the busy timeout: the daemon waits, says why, and
    # carries on when the lock is gone.
    daemon = tree.start()
    try:
        holder = sqlite3.connect(state_db(tree), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        photos |= make_photos(tree.camera, 2, first_seed=20)
        wait_for(lambda: "is locked by another process" in tree.logs(), what="the lock logged")
        time.sleep(2.0)
        assert daemon.poll() is None, tree.logs()
        assert all(p.exists() for p in tree.camera.iterdir())
        holder.close()
        wait_for(lambda: not any(tree.camera.iterdir()), what="the photos filed after the lock")
        assert "is free again" in tree.logs()
        assert tree.status()["processed"] == len(photos)
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    assert_every_photo_once(tree, photos)
    assert all(a.state == "done" for a in read_actions(tree))


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["header", "pages"])
def test_corrupt_state_database_is_refused_and_kept(tmp_path: Path, damage: str) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    photos = file_some_photos(tree)
    db = state_db(tree)
    data = bytearray(db.read_bytes())
    rng = random.Random(7)
    if damage == "header":
        data[:100] = bytes(rng.randrange(256) for _ in range(100))
    else:
        page = int.from_bytes(data[16:18], "big") or 65536
        assert len(data) >= 3 * page, "the database is too small to damage a page in it"
        for start in range(page, len(data), page):
            data[start + 8:start + 200] = bytes(rng.randrange(256) for _ in range(192))
    db.write_bytes(bytes(data))

    refused = run_to_exit(tree)
    assert refused.returncode == 2, refused.stderr
    assert f"state database {db} is corrupt" in refused.stderr
    assert "move it aside" in refused.stderr and "Traceback" not in refused.stderr
    assert db.read_bytes() == bytes(data), "the damaged file (its undo history) must be kept"
    assert_every_photo_once(tree, photos)
    assert tree.ctl("status").returncode == 3  # nothing is running


# --- signals and a second daemon -----------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_a_batch_exits_promptly_and_loses_nothing(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    photos = make_photos(tree.camera, 40)
    daemon = tree.start()
    wait_for(lambda: tree.library_files(), what="filing under way")
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    code = daemon.wait(timeout=30)
    took = time.monotonic() - started
    print(f"SIGTERM during a batch: exit {code} after {took:.1f} s")
    assert code == 0, tree.logs()
    assert took < 5.0, f"took {took:.1f} s to stop"
    assert_every_photo_once(tree, photos)
    assert read_actions(tree) and all(a.state == "done" for a in read_actions(tree))
    conn = sqlite3.connect(f"file:{state_db(tree)}?mode=ro", uri=True)
    try:
        inflight = conn.execute("SELECT COUNT(*) FROM queue WHERE status = 'inflight'")
        assert inflight.fetchone()[0] == 0, "a batch was left in flight"
    finally:
        conn.close()
    assert len(tree.library_files()) < len(photos), "the test should stop it mid-way"

    daemon = tree.start()
    try:
        wait_for(lambda: not any(tree.camera.iterdir()), what="the rest filed after restart")
        assert tree.status()["processed"] == len(photos)
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    assert_every_photo_once(tree, photos)


@pytest.mark.slow
def test_sighup_with_a_bad_config_keeps_the_old_one(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    good = tree.config.read_text()
    daemon = tree.start()
    try:
        tree.config.write_text(good.replace("batch_max_wait_seconds = 0.2",
                                            "batch_max_wait_seconds = -1"))
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "config not reloaded" in tree.logs(), what="the refused reload logged")
        assert "daemon.batch_max_wait_seconds" in tree.logs()  # names the key
        photos = make_photos(tree.camera, 1)
        wait_for(lambda: len(tree.library_files()) == 1, what="filing with the old config")

        tree.config.write_text("this is [not toml")
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: tree.logs().count("config not reloaded") == 2, what="bad TOML refused")

        # A good config is taken: the new library root is used from then on.
        other = tree.base / "Other"
        tree.config.write_text(good.replace(f'root = "{tree.library}"', f'root = "{other}"'))
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded" in tree.logs(), what="the good reload")
        photos |= make_photos(tree.camera, 1, first_seed=3)
        wait_for(lambda: other.exists() and any(p.is_file() for p in other.rglob("*")),
                 what="filing into the new library")
        assert tree.status()["state"] == "running"
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    assert len(tree.library_files()) == 1


@pytest.mark.slow
def test_two_daemons_started_at_once_one_refuses(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    first = launch(tree, wait=False)
    second = launch(tree, wait=False)
    try:
        wait_for(lambda: first.poll() is not None or second.poll() is not None, timeout=60,
                 what="one of the two daemons to refuse")
        loser, winner = (first, second) if first.poll() is not None else (second, first)
        assert loser.returncode == 2
        assert "another xintud is already running" in tree.logs()
        wait_for(lambda: tree.ctl("status").returncode == 0, timeout=60, what="the winner")
        assert tree.status()["pid"] == winner.pid
        assert winner.poll() is None
        photos = make_photos(tree.camera, 2)
        wait_for(lambda: len(tree.library_files()) == 2, what="the winner filing")
        assert_every_photo_once(tree, photos)
    finally:
        for process in (first, second):
            if process.poll() is None:
                assert tree.stop(process) == 0, tree.logs()
