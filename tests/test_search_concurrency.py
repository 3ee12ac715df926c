"""esnkit.search in company: processes sharing one study, a killed process's trials, the storage's errors.

The two-process and kill -9 tests run real processes on an SQLite study (small reservoirs, short
series, a sleeping objective that makes the rounds overlap); each takes about 10 s on 2 cores.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import optuna
import pytest
import sqlalchemy.exc

import esnkit as ek
from esnkit.tuning import SearchError, driver, search

SPACE = {"spectral_radius": (0.3, 1.2), "leak_rate": {"low": 0.2, "high": 1.0, "log": True}}
FIXED = {"reservoir_size": 30, "washout": 20, "seed": 0}
SRC = os.path.dirname(os.path.dirname(ek.__file__))

# A search in a process of its own: `python worker.py DB [HANG_AT]`. With HANG_AT, the objective's
# call of that number writes DB.hung and sleeps (for the test to kill the process there). With
# $ESNKIT_TEST_PEERS, the first call waits until that many processes own trials of the study, so
# that the processes surely overlap.
WORKER = textwrap.dedent(f"""
    import json, os, sqlite3, sys, time
    import esnkit as ek

    db = sys.argv[1]
    hang_at = int(sys.argv[2]) if len(sys.argv) > 2 else None
    peers = int(os.environ.get("ESNKIT_TEST_PEERS", "0"))
    calls = 0

    def owners():
        con = sqlite3.connect(db, timeout=30)
        try:
            rows = con.execute("SELECT value_json FROM trial_user_attributes WHERE key = 'owner'").fetchall()
        finally:
            con.close()
        return {{json.loads(v)["token"] for (v,) in rows}} - {{"dead", "gone"}}

    def objective(esn, u, y):
        global calls
        calls += 1
        if calls == 1 and peers:
            deadline = time.time() + 30
            while len(owners()) < peers and time.time() < deadline:
                time.sleep(0.05)
        if calls == hang_at:
            open(db + ".hung", "w").close()
            time.sleep(120)
        time.sleep(0.05)
        return float(ek.metrics.nrmse(y, esn.predict(u)))

    r = ek.search(ek.datasets.mackey_glass(400), space={SPACE!r}, fixed={FIXED!r}, n_trials=int(os.environ["N"]),
                  batch_size=4, storage=db, study_name="shared", objective=objective, ridge_candidates=1,
                  progress=False, refit=False)
    print("best", r.best_value)
""")


def start(tmp_path, *args, n_trials, peers=0):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
           "N": str(n_trials), "ESNKIT_TEST_PEERS": str(peers), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def load(db):
    return optuna.load_study(study_name="shared", storage=f"sqlite:///{db}")


def key(params):
    return tuple(sorted(params.items()))


def counted(study):
    """The trials that spend n_trials: finished, not requeued."""
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and not driver._requeued(t)]


def running_trial(study, owner, **attrs):
    """A trial left running by ``owner`` (a user-attribute record), with parameters drawn from SPACE."""
    t = study.ask()
    t.suggest_float("spectral_radius", 0.3, 1.2)
    t.suggest_float("leak_rate", 0.2, 1.0, log=True)
    t.set_user_attr("owner", owner)
    for k, v in attrs.items():
        t.set_user_attr(k, v)
    return study.get_trials(deepcopy=False)[-1]


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def stale_trials(study):
    """Two trials a killed process left running: one of a process of this host that is gone, one of
    another host whose heartbeat stopped long ago."""
    here = driver._Owner.this_process()
    gone_here = {"host": here.host, "pid": dead_pid(), "start": 1, "token": "dead", "since": time.time()}
    gone_there = {"host": "elsewhere", "pid": 1, "start": None, "token": "gone", "since": time.time() - 1e4}
    return [running_trial(study, gone_here), running_trial(study, gone_there, heartbeat=time.time() - 1e4)]


def test_two_processes_on_one_study_share_its_budget(tmp_path):
    db = tmp_path / "s.db"
    seeded = optuna.create_study(study_name="shared", storage=f"sqlite:///{db}")
    stale = stale_trials(seeded)
    t0 = time.perf_counter()
    procs = [start(tmp_path, db, n_trials=16, peers=2) for _ in range(2)]
    for p in procs:
        finish(p)
    print(f"two processes, 16 trials: {time.perf_counter() - t0:.1f} s")
    study = load(db)
    trials = study.get_trials(deepcopy=False)
    assert {t.state.name for t in trials} <= {"COMPLETE", "FAIL"}  # nothing left running or waiting
    done = counted(study)
    assert len(done) == 16 and all(t.state.name == "COMPLETE" for t in done)
    assert len({key(t.params) for t in done}) == 16  # no configuration ran twice
    assert len({t.user_attrs["owner"]["token"] for t in done}) == 2  # both processes ran trials
    for s in stale:  # requeued exactly once, and run exactly once
        assert driver._requeued(study.trials[s.number])
        assert [key(t.params) for t in done].count(key(s.params)) == 1
    assert sum(driver._requeued(t) for t in trials) == 2


def test_a_search_killed_with_sigkill_resumes_without_losing_a_trial(tmp_path):
    db = tmp_path / "s.db"
    t0 = time.perf_counter()
    proc = start(tmp_path, db, 6, n_trials=12)  # hangs in the 6th evaluation: the 2nd round's 2nd member
    deadline = time.time() + 60
    while not os.path.exists(f"{db}.hung"):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "no hang"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = {t.number: t for t in load(db).get_trials()}
    finished = [t for t in before.values() if t.state.name == "COMPLETE"]
    leftovers = [t for t in before.values() if t.state.name == "RUNNING"]
    assert len(finished) == 4 and len(leftovers) == 4

    finish(start(tmp_path, db, n_trials=12))  # the same call again
    print(f"kill -9 and resume: {time.perf_counter() - t0:.1f} s")
    study = load(db)
    after = {t.number: t for t in study.get_trials()}
    for t in finished:  # every trial finished before the kill is there as it was
        assert after[t.number].state.name == "COMPLETE"
        assert (after[t.number].value, after[t.number].params) == (t.value, t.params)
    done = counted(study)
    assert len(done) == 12 and all(t.state.name == "COMPLETE" for t in done)
    assert {t.state.name for t in after.values()} <= {"COMPLETE", "FAIL"}
    for t in leftovers:  # each leftover requeued once, its parameters run again once
        assert driver._requeued(after[t.number])
        assert [key(d.params) for d in done].count(key(t.params)) == 1
    assert sum(driver._requeued(t) for t in after.values()) == 4


@pytest.fixture(scope="module")
def series():
    return ek.datasets.mackey_glass(400)


def run(series, **kw):
    kw = {"space": SPACE, "fixed": FIXED, "n_trials": 8, "batch_size": 4, "progress": False, "study_name": "shared",
          **kw}
    return search(series, **kw)


def test_live_trials_of_others_spend_the_budget_and_stale_ones_are_requeued(series, tmp_path):
    db = tmp_path / "s.db"
    study = optuna.create_study(study_name="shared", storage=f"sqlite:///{db}")
    here = driver._Owner.this_process()
    alive_here = {**here.record(), "token": "another search in this process"}
    beating_there = {"host": "elsewhere", "pid": 1, "start": None, "token": "there", "since": time.time() - 1e4}
    live = [running_trial(study, alive_here), running_trial(study, alive_here),
            running_trial(study, beating_there, heartbeat=time.time())]
    stale = stale_trials(study)
    r = run(series, storage=str(db), n_trials=8)
    trials = r.study.get_trials(deepcopy=False)
    assert [trials[t.number].state.name for t in live] == ["RUNNING"] * 3  # left alone
    assert all(driver._requeued(trials[t.number]) for t in stale)
    done = counted(r.study)
    assert len(done) == 5  # 8 trials: 3 of them still running elsewhere
    assert len(r.table) == 5 and r.best_value == min(t.value for t in done)
    for s in stale:
        assert [key(t.params) for t in done].count(key(s.params)) == 1
    # the budget is spent: another search of the study asks nothing and returns the best
    again = run(series, storage=str(db), n_trials=8)
    assert len(again.study.get_trials(deepcopy=False)) == len(trials)
    assert again.best_value == r.best_value
    # a larger budget runs the difference
    more = run(series, storage=str(db), n_trials=10)
    assert len(counted(more.study)) == 7


def test_a_search_whose_budget_others_hold_waits_for_them(series, tmp_path):
    db = tmp_path / "s.db"
    study = optuna.create_study(study_name="shared", storage=f"sqlite:///{db}")
    alive_here = {**driver._Owner.this_process().record(), "token": "another search in this process"}
    held = [running_trial(study, alive_here) for _ in range(2)]
    t0 = time.perf_counter()
    with pytest.raises(SearchError, match=r"2 trial\(s\) running in other processes hold .* n_trials=2, and timeout"):
        run(series, storage=str(db), n_trials=2, timeout=1.0)
    assert time.perf_counter() - t0 < 5
    # one of them finishes while it waits: the search returns it as the best
    finisher = threading.Timer(1.0, lambda: (study.tell(held[0].number, 0.25),))
    for k, v in {"ridge": 1e-6, "one_step_nrmse": 0.25, "ridge_floor": 0.0}.items():
        study._storage.set_trial_user_attr(held[0]._trial_id, k, v)
    finisher.start()
    r = run(series, storage=str(db), n_trials=2)
    finisher.join()
    assert r.best_value == 0.25 and len(counted(r.study)) == 1


def test_running_trials_beat(series, tmp_path, monkeypatch):
    monkeypatch.setattr(driver, "HEARTBEAT_INTERVAL", 0.05)
    db = tmp_path / "s.db"

    def beating(esn, u, y):  # returns once each of the round's 4 trials has had a heartbeat
        deadline = time.time() + 30
        while time.time() < deadline:
            con = sqlite3.connect(db, timeout=30)
            beats = con.execute("SELECT COUNT(*) FROM trial_user_attributes WHERE key = 'heartbeat'").fetchone()[0]
            con.close()
            if beats >= 4:
                break
            time.sleep(0.05)
        return float(ek.metrics.nrmse(y, esn.predict(u)))

    t0 = time.time()
    r = run(series, storage=str(db), objective=beating, n_trials=4, ridge_candidates=1)
    beats = [t.user_attrs.get("heartbeat") for t in r.study.trials]
    assert all(b is not None and t0 < b <= time.time() for b in beats), beats
    assert not any(th.name == "esnkit-search-heartbeat" for th in threading.enumerate())


def test_requeue_passes_over_a_trial_another_process_finished(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    t = study.ask()
    t.suggest_float("x", 0, 1)
    running = study.get_trials(deepcopy=False)[0]  # as a survey saw it: running
    study.tell(t, 0.5)  # ... and then its process finished it
    assert driver._requeue(study, [running], "its process stopped") == 0
    (again,) = study.get_trials(deepcopy=False)
    assert again.state.name == "COMPLETE" and not driver._requeued(again)
    assert driver._requeue(study, [running], "its process stopped") == 0  # twice: still nothing


def test_sqlite_studies_take_the_write_lock_when_a_transaction_begins(tmp_path):
    # what makes taking a queued trial, and requeueing a stale one, one step on SQLite
    storage, _ = driver._open_storage(str(tmp_path / "s.db"))
    with storage.engine.connect() as con:
        con.exec_driver_sql("SELECT 1")
        other = sqlite3.connect(tmp_path / "s.db", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


@pytest.mark.parametrize("storage, error, message", [
    ("missing/s.db", SearchError, "missing does not exist"),
    ("sqlite:///{tmp}/missing/s.db", SearchError, "missing does not exist"),
    ("file.txt/s.db", SearchError, "file.txt is not a folder"),
    ("corrupt.db", SearchError, "cannot be opened .*file is not a database"),
    ("foo://bar", ValueError, "storage 'foo://bar' is not a storage URL"),
    ("sqlite:/s.db", ValueError, "storage 'sqlite:/s.db' is not a storage URL"),
    ("sqlite:///file:{tmp}/study.db?mode=ro&uri=true", SearchError, "readonly database"),
])
def test_storage_errors_name_the_storage(series, tmp_path, monkeypatch, storage, error, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "corrupt.db").write_bytes(b"not an SQLite file " * 200)
    run(series, storage="study.db", n_trials=1)  # an existing study, for the read-only case
    storage = storage.format(tmp=tmp_path)
    with pytest.raises(error, match=message) as info:
        run(series, storage=storage, n_trials=2)
    assert info.value.__cause__ is None and not isinstance(info.value, sqlalchemy.exc.SQLAlchemyError)
    assert repr(storage) in str(info.value) or storage.split("/")[0] in str(info.value)


def test_a_missing_database_driver_is_a_search_error(series):
    pytest.importorskip("sqlalchemy.dialects.mysql")
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("a MySQL driver is installed")
    with pytest.raises(SearchError, match="'mysql://u@127.0.0.1:9/db': its database driver is not installed"):
        run(series, storage="mysql://u@127.0.0.1:9/db")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes in read-only folders")
def test_a_read_only_folder_is_a_search_error(series, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(SearchError, match="cannot be opened.*folder this process can write to"):
            run(series, storage=str(folder / "s.db"))
    finally:
        folder.chmod(0o755)


def test_a_storage_failing_during_the_search_is_a_search_error(series, tmp_path, monkeypatch):
    def tell(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("UPDATE trials", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(optuna.study.Study, "tell", tell)
    with pytest.raises(SearchError, match=r"storage '.*s.db' failed during the search \(OperationalError: disk I/O"):
        run(series, storage=str(tmp_path / "s.db"))


def test_a_process_id_is_alive_only_with_its_start_time():
    me = driver._Owner.this_process()
    assert me.alive(me.record()) is True
    assert me.alive({**me.record(), "start": -1}) is False  # the id taken by a later process
    assert me.alive({**me.record(), "pid": dead_pid()}) is False
    assert me.alive({**me.record(), "host": "elsewhere"}) is None  # the heartbeat decides
    json.dumps(me.record())  # what the trial stores
