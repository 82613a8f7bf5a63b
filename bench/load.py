"""Load and faults over real HTTP: the bot as an operator runs it, driven by customers on loopback.

    python bench/load.py faults  [--workers 2] [--outage 60] [--customers 16] [--messages 12]
    python bench/load.py targets [--customers 16] [--messages 6] [--skip-sqlite]
    python bench/load.py profile [--turns 40]

``faults``: ``python -m bot serve --workers N`` on a PostgreSQL database of its own, behind nginx
started with deploy/nginx-servicedesk.conf (TLS with a certificate openssl makes now); customers
on the web chat, by Telegram webhook and by WeCom callback against the fake platforms of the
tests (tests/integration/telegram/fake_bot_api.py, tests/integration/wecom/wecom_sim.py). Mid-run
one worker is killed with SIGKILL (uvicorn starts another), then both platform APIs are down for
``--outage`` seconds. Telegram and WeCom retry a webhook until it is answered 200, as they do; a
web chat request that fails is not repeated (the customer sees an error). Prints throughput,
p50/p99 by channel and the lost, duplicated and out-of-order replies.

``targets``: the figures of issue 15: the in-process turn, the HTTP overhead one at a time,
questions/s and p50/p99 with ``--customers`` at once on SQLite and PostgreSQL, 2 workers pinned
to a core each against 1 worker pinned to one core, and how fast a reply queued by another
process is sent (LISTEN/NOTIFY, the poll set to 60 s).

``profile``: pyinstrument over in-process FAQ turns, and one FAQ turn over HTTP cut into what the
client waited, what the server's request took and what the turn took (the bot's own histograms).

Needs nginx (``apt-get install -y nginx``) for ``faults``, and the PostgreSQL server of the tests
(``BENCH_POSTGRES_URL``, default postgresql://postgres@127.0.0.1:5432/postgres): each run creates
a database of its own and drops it at the end. One JSON object a line on stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import nginx
from bench.common import cache_dir
from tests.integration.telegram.fake_bot_api import SECRET as TG_SECRET
from tests.integration.telegram.fake_bot_api import TOKEN as TG_TOKEN
from tests.integration.telegram.fake_bot_api import FakeBotApi, asgi_app
from tests.integration.wecom import wecom_sim

SAMPLE = REPO / "knowledge" / "data"
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# -- the fake platforms, timed, and able to be down ------------------------------------------------

class TimedBotApi(FakeBotApi):
    """The tests' fake Bot API noting when each message arrived; ``down`` refuses every call."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.arrivals: list[tuple[float, str, str]] = []

    def call(self, method: str, params: dict[str, Any], files: Any) -> tuple[int, Any]:
        if self.down:
            raise ConnectionResetError("Bot API down")
        status, body = super().call(method, params, files)
        if method == "sendMessage" and status == 200:
            self.arrivals.append((time.monotonic(), str(params["chat_id"]), self.sent[-1]["text"]))
        return status, body


class TimedWeCom(wecom_sim.FakeWeCom):
    """The tests' WeCom simulator noting when each message arrived (``down`` is its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str, str]] = []

    def _message_send(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.arrivals.append((time.monotonic(), body["touser"], body["text"]["content"]))
        return super()._message_send(params, body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_bot_api(api: FakeBotApi) -> tuple[str, uvicorn.Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(asgi_app(api), log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/bot", server


# -- the database and the bot ----------------------------------------------------------------------

@contextmanager
def postgres_database():
    """A database of its own on the tests' server, dropped at the end; yields its URL."""
    name = f"bench_load_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def data_dir(folder: Path) -> Path:
    """A bot's data folder whose embedding cache is the benchmarks' (bench/common.py), so the
    workers start without embedding the knowledge again; this process warms it first."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if not (data / "embeddings").exists():
        (data / "embeddings").symlink_to(cache, target_is_directory=True)
    return data


def bot_env(folder: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(BOT_DATA_DIR=str(data_dir(folder)), BOT_DATABASE_URL=database_url, BOT_RATE_LIMIT_PER_MINUTE="1000000",
               BOT_KNOWLEDGE_WATCH="false", BOT_HANDOFF_HOURS="always", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def platform_env(bot_api_url: str, wecom: wecom_sim.FakeWeCom) -> dict[str, str]:
    return {"BOT_TELEGRAM_TOKEN": TG_TOKEN, "BOT_TELEGRAM_MODE": "webhook", "BOT_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "BOT_TELEGRAM_BASE_URL": bot_api_url, "BOT_WECOM_MODE": "app", "BOT_WECOM_CORP_ID": wecom_sim.CORP_ID,
            "BOT_WECOM_AGENT_ID": str(wecom_sim.AGENT_ID), "BOT_WECOM_SECRET": wecom_sim.SECRET,
            "BOT_WECOM_TOKEN": wecom_sim.TOKEN, "BOT_WECOM_AES_KEY": wecom_sim.AES_KEY,
            "BOT_WECOM_BASE_URL": wecom.base_url}


class Bot:
    """``python -m bot serve --workers N`` on a free loopback port, waited for until every worker started."""

    def __init__(self, folder: Path, env: dict[str, str], workers: int) -> None:
        self.port, self.workers = free_port(), workers
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"bot-{self.port}.log"
        cmd = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            self.wait_started(workers)
        except BaseException:
            self.kill()
            raise

    def started_count(self) -> int:
        return self.log.read_text(errors="replace").count("Application startup complete")

    def wait_started(self, count: int, seconds: float = 600) -> None:
        deadline = time.monotonic() + seconds
        while self.started_count() < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the bot did not start: see {self.log}")
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(p) for p in children if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the workers and the supervisor (a worker still loading its models ignores SIGTERM)."""
        if self.proc.poll() is None:
            for pid in self.worker_pids():
                os.kill(pid, signal.SIGKILL)
            self.proc.kill()
        self.proc.wait()


# -- what the customers ask ------------------------------------------------------------------------

def sample_runtime(folder: Path):
    """The bot in this process: SQLite under ``folder``, the shipped knowledge, the real models."""
    from bot.app import Runtime
    from bot.config import load_settings

    return Runtime.build(load_settings(_env_file=None, data_dir=data_dir(folder)), channels={})


def answered_questions(rt) -> list[tuple[str, str]]:
    """(question, answer signature) of the sample entries the bot answers outright with one reply,
    each answer told apart by its first characters: how a reply is matched to its question."""
    from handlers.messages import Incoming
    from knowledge.loader import load

    entries, _problems = load(SAMPLE)
    found, seen = [], set()
    for entry in entries:
        if entry.lang != "zh" or "zh" not in entry.answer:
            continue
        sig = signature(entry.answer["zh"])
        chat = f"pick-{entry.id}"
        replies = rt.engine.handle(Incoming(channel="web", chat_id=chat, user_id=chat, text=entry.question)).replies
        if len(replies) == 1 and sig in signature(replies[0].text) and sig not in seen:
            found.append((entry.question, sig))
            seen.add(sig)
    return found


def questions_to_ask() -> list[tuple[str, str]]:
    rt = sample_runtime(Path(tempfile.mkdtemp(prefix="bench-pick-")))
    try:
        return answered_questions(rt)
    finally:
        rt.services.db.dispose()


def signature(text: str) -> str:
    return re.sub(r"\s+", "", text)[:14]


# -- the customers ---------------------------------------------------------------------------------

@dataclass
class Sent:
    channel: str
    chat: str
    index: int
    sig: str
    at: float
    done: float | None = None  # web chat: the answer came back; others: the webhook answered 200
    ok: bool = True


@dataclass
class Run:
    questions: list[tuple[str, str]]
    messages: int
    sent: list[Sent] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def plan(self, customer: int) -> list[tuple[str, str]]:
        q = self.questions
        return [q[(customer * 5 + i) % len(q)] for i in range(self.messages)]


async def web_customer(run: Run, client: httpx.AsyncClient, base: str, customer: int, pause: float) -> None:
    session = secrets.token_hex(20)
    for i, (question, sig) in enumerate(run.plan(customer)):
        item = Sent("web", session, i, sig, time.monotonic())
        try:
            r = await client.post(f"{base}/api/chat", json={"session_id": session, "text": question}, timeout=120)
            item.ok = r.status_code == 200 and bool(r.json().get("replies"))
        except httpx.HTTPError:
            item.ok = False
        item.done = time.monotonic()
        if not item.ok:
            run.errors["web"] = run.errors.get("web", 0) + 1
        run.sent.append(item)
        await asyncio.sleep(pause)


async def deliver(client: httpx.AsyncClient, run: Run, channel: str, **request: Any) -> None:
    """POST a webhook until it is answered 200, once a second, as the platforms retry."""
    while True:
        try:
            r = await client.post(timeout=30, **request)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        run.errors[channel] = run.errors.get(channel, 0) + 1
        await asyncio.sleep(1.0)


async def telegram_customer(run: Run, client: httpx.AsyncClient, base: str, api: FakeBotApi, customer: int,
                            pause: float) -> None:
    chat = 900000 + customer
    for i, (question, sig) in enumerate(run.plan(customer)):
        item = Sent("telegram", str(chat), i, sig, time.monotonic())
        run.sent.append(item)
        await deliver(client, run, "telegram", url=f"{base}/telegram/webhook", json=api.text_update(question, chat),
                      headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        item.done = time.monotonic()
        await asyncio.sleep(pause)


async def wecom_customer(run: Run, client: httpx.AsyncClient, base: str, customer: int, pause: float) -> None:
    user = f"bench{customer}"
    for i, (question, sig) in enumerate(run.plan(customer)):
        item = Sent("wecom", user, i, sig, time.monotonic())
        run.sent.append(item)
        query, body = wecom_sim.callback(wecom_sim.text_xml(user, question, f"{user}-{i}", int(time.time())))
        await deliver(client, run, "wecom", url=f"{base}/wecom/callback?{query}", content=body)
        item.done = time.monotonic()
        await asyncio.sleep(pause)


# -- counting the replies --------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def judge(sent: list[Sent], arrivals: dict[str, list[tuple[float, str]]]) -> dict[str, Any]:
    """Per chat: each accepted message's reply once, in the order asked. ``arrivals`` maps a chat
    to its (time, text) replies in arrival order."""
    by_chat: dict[str, list[Sent]] = {}
    for s in sent:
        if s.ok:
            by_chat.setdefault(s.chat, []).append(s)
    lost = dup = disorder = 0
    latencies = []
    for chat, items in by_chat.items():
        got = arrivals.get(chat, [])
        order = []
        for item in sorted(items, key=lambda s: s.index):
            hits = [(t, n) for n, (t, text) in enumerate(got) if item.sig in signature(text)]
            lost += not hits
            dup += max(0, len(hits) - 1)
            if hits:
                order.append(hits[0][1])
                latencies.append(hits[0][0] - item.at)
        disorder += sum(1 for a, b in itertools.pairwise(order) if b < a)
    return {"lost": lost, "duplicated": dup, "out_of_order": disorder, "latencies": latencies}


def web_transcripts(base: str, sent: list[Sent], verify: bool) -> dict[str, list[tuple[float, str]]]:
    chats = {s.chat for s in sent if s.channel == "web"}
    out = {}
    with httpx.Client(verify=verify, timeout=60) as client:
        for chat in chats:
            msgs = client.get(f"{base}/api/chat/messages", params={"session_id": chat, "after": 0}).json()["messages"]
            out[chat] = [(0.0, m["text"] or "") for m in msgs if m["from"] == "bot"]
    return out


def summary(channel: str, sent: list[Sent], verdict: dict[str, Any], web: bool) -> dict[str, Any]:
    mine = [s for s in sent if s.channel == channel]
    lat = [s.done - s.at for s in mine if s.ok and s.done] if web else verdict["latencies"]
    return {"channel": channel, "messages": len(mine), "failed_requests": sum(not s.ok for s in mine),
            "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "lost": verdict["lost"],
            "duplicated": verdict["duplicated"], "out_of_order": verdict["out_of_order"]}


# -- faults ----------------------------------------------------------------------------------------

async def drive_faults(a: argparse.Namespace, run: Run, base: str, bot: Bot, api: TimedBotApi,
                       wecom: TimedWeCom) -> dict[str, Any]:
    n = a.customers
    web_n, tg_n = n // 2, n // 4
    events: dict[str, Any] = {}

    async def faults() -> None:
        await asyncio.sleep(a.kill_after)
        victim = bot.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        events["killed_worker"], events["killed_at_s"] = victim, round(time.monotonic() - t0, 1)
        await asyncio.sleep(a.outage_after)
        api.down = wecom.down = True
        events["outage_from_s"] = round(time.monotonic() - t0, 1)
        await asyncio.sleep(a.outage)
        api.down = wecom.down = False
        events["outage_to_s"] = round(time.monotonic() - t0, 1)

    limits = httpx.Limits(max_connections=4 * n)
    async with httpx.AsyncClient(verify=False, limits=limits) as client:
        t0 = time.monotonic()
        tasks = [web_customer(run, client, base, i, a.pause) for i in range(web_n)]
        tasks += [telegram_customer(run, client, base, api, i, a.pause) for i in range(web_n, web_n + tg_n)]
        tasks += [wecom_customer(run, client, base, i, a.pause) for i in range(web_n + tg_n, n)]
        fault_task = asyncio.create_task(faults())
        await asyncio.gather(*tasks)
        events["traffic_s"] = round(time.monotonic() - t0, 1)
        await fault_task
    events["workers_after"] = len(bot.worker_pids())
    return events


def wait_for_replies(run: Run, api: TimedBotApi, wecom: TimedWeCom, seconds: float) -> float:
    expected = sum(1 for s in run.sent if s.channel != "web")
    deadline = time.monotonic() + seconds
    while len(api.arrivals) + len(wecom.arrivals) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return time.monotonic()


def faults(a: argparse.Namespace) -> None:
    questions = questions_to_ask()
    run = Run(questions, a.messages)
    api, wecom = TimedBotApi(), TimedWeCom().start()
    bot_api_url, api_server = serve_bot_api(api)
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    with postgres_database() as url:
        bot = Bot(folder, bot_env(folder, url, **platform_env(bot_api_url, wecom)), a.workers)
        https, http = free_port(), free_port()
        proxy = nginx.start(nginx.loopback_config(folder / "nginx", https, http, bot.port))
        base = f"https://127.0.0.1:{https}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/readyz", verify=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            t0 = time.monotonic()
            events = asyncio.run(drive_faults(a, run, base, bot, api, wecom))
            end = wait_for_replies(run, api, wecom, a.drain)
            tg = {}
            for t, chat, text in api.arrivals:
                tg.setdefault(chat, []).append((t, text))
            wc = {}
            for t, user, text in wecom.arrivals:
                wc.setdefault(user, []).append((t, text))
            web = web_transcripts(base, run.sent, verify=False)
            out = {"bench": "faults", "workers": a.workers, "database": "postgresql", "proxy": "nginx (deploy/)",
                   "customers": a.customers, "messages_each": a.messages, "outage_s": a.outage, **events,
                   "all_replies_in_s": round(end - t0, 1), "cores": os.cpu_count(),
                   "load_avg_1m": round(os.getloadavg()[0], 2), "webhook_retries": run.errors}
            sent_ok = [s for s in run.sent if s.ok]
            out["throughput_msgs_per_s"] = round(len(sent_ok) / max(events["traffic_s"], 1e-9), 1)
            print(json.dumps(out))
            for channel, arrivals in (("web", web), ("telegram", tg), ("wecom", wc)):
                mine = [s for s in run.sent if s.channel == channel]
                print(json.dumps(summary(channel, run.sent, judge(mine, arrivals), channel == "web")))
        finally:
            proxy.terminate()
            proxy.wait(10)
            bot.stop()
    api_server.should_exit = True
    wecom.stop()


# -- targets ---------------------------------------------------------------------------------------

def in_process_turn(rt, questions: list[tuple[str, str]], turns: int) -> float:
    """The median time of one FAQ turn by ``Engine.handle`` (SQLite, the real knowledge), one at a time."""
    from handlers.messages import Incoming

    times = []
    for i in range(turns + 5):
        q = questions[i % len(questions)][0]
        chat = f"inproc-{i}"
        t = time.perf_counter()
        rt.engine.handle(Incoming(channel="web", chat_id=chat, user_id=chat, text=q))
        times.append(time.perf_counter() - t)
    return statistics.median(times[5:])


async def web_load(base: str, questions: list[tuple[str, str]], customers: int, messages: int) -> dict[str, Any]:
    run = Run(questions, messages)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=2 * customers)) as client:
        await asyncio.gather(*(web_customer(run, client, base, i, 0.0) for i in range(min(customers, 4))))  # warm
        run.sent.clear()
        t0 = time.monotonic()
        await asyncio.gather(*(web_customer(run, client, base, i, 0.0) for i in range(customers)))
        wall = time.monotonic() - t0
    lat = [s.done - s.at for s in run.sent if s.ok]
    return {"customers": customers, "questions": len(lat), "failed": len(run.sent) - len(lat),
            "questions_per_s": round(len(lat) / wall, 1), "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99)}


def pin_workers(bot: Bot, cores: list[int]) -> None:
    for pid, core in zip(bot.worker_pids(), cores):
        os.sched_setaffinity(pid, {core})
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(tid), {core})


def measure_wake(bot_url: str, database_url: str, api: TimedBotApi, tries: int = 20) -> dict[str, Any]:
    """A reply queued by this process (standing in for another worker) and committed: how long
    until the fake Bot API has it, with the bot's poll at 60 s."""
    from handlers.messages import Reply
    from storage import repositories
    from storage.db import Database
    from storage.outbox import enqueue

    db = Database(database_url)
    waits = []
    for i in range(tries):
        chat = str(800000 + i)
        before = len(api.arrivals)
        with db.session() as s:
            conversation = repositories.lock_conversation(s, "telegram", chat, chat)
            enqueue(s, conversation, [Reply(f"wake {i}")])
            t0 = time.monotonic()
        while len(api.arrivals) == before and time.monotonic() - t0 < 10:
            time.sleep(0.001)
        waits.append(api.arrivals[-1][0] - t0 if len(api.arrivals) > before else 10.0)
        time.sleep(0.05)
    db.dispose()
    return {"wake_p50_ms": pct(waits, 0.5), "wake_max_ms": round(max(waits) * 1000, 1), "tries": tries}


def one_at_a_time(base: str, questions: list[tuple[str, str]], turns: int) -> list[float]:
    """Seconds of each web chat FAQ turn, one customer at a time, after five to warm up."""
    times = []
    with httpx.Client(timeout=60) as client:
        for i in range(turns + 5):
            session = secrets.token_hex(20)
            t = time.perf_counter()
            r = client.post(f"{base}/api/chat", json={"session_id": session, "text": questions[i % len(questions)][0]})
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return times[5:]


def targets(a: argparse.Namespace) -> None:
    rt = sample_runtime(Path(tempfile.mkdtemp(prefix="bench-inproc-")))
    questions = answered_questions(rt)
    cores = os.cpu_count() or 1
    inproc = in_process_turn(rt, questions, a.turns)
    rt.services.db.dispose()
    print(json.dumps({"bench": "in_process_turn", "p50_ms": round(inproc * 1000, 1),
                      "target_questions_per_s": round(0.8 * cores / inproc, 1), "cores": cores,
                      "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-targets-"))
    api = TimedBotApi()
    bot_api_url, api_server = serve_bot_api(api)
    with postgres_database() as pg:
        setups = [] if a.skip_sqlite else [("sqlite", f"sqlite:///{folder / 'bot.sqlite3'}")]
        for name, url in [*setups, ("postgresql", pg)]:
            bot = Bot(folder / name, bot_env(folder / name, url), cores)
            try:
                http = statistics.median(one_at_a_time(bot.url, questions, a.turns))
                load = asyncio.run(web_load(bot.url, questions, a.customers, a.messages))
            finally:
                bot.stop()
            print(json.dumps({"bench": "http", "database": name, "workers": cores,
                              "one_at_a_time_p50_ms": round(http * 1000, 1),
                              "overhead_ratio": round(http / inproc, 2), **load,
                              "p99_over_p50": round(load["p99_ms"] / load["p50_ms"], 2),
                              "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)
        if cores >= 2:
            pinned = {}
            for workers in (1, 2):
                bot = Bot(folder / f"pinned{workers}", bot_env(folder / f"pinned{workers}", pg), workers)
                try:
                    pin_workers(bot, list(range(workers)))
                    pinned[workers] = asyncio.run(web_load(bot.url, questions, a.customers, a.messages))
                finally:
                    bot.stop()
            print(json.dumps({"bench": "scale_out_pinned", "one_worker": pinned[1], "two_workers": pinned[2],
                              "ratio": round(pinned[2]["questions_per_s"] / pinned[1]["questions_per_s"], 2),
                              "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)
        env = bot_env(folder / "wake", pg, BOT_OUTBOX_POLL_SECONDS="60", BOT_TELEGRAM_TOKEN=TG_TOKEN,
                      BOT_TELEGRAM_MODE="webhook", BOT_TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
                      BOT_TELEGRAM_BASE_URL=bot_api_url)
        bot = Bot(folder / "wake", env, 2)
        try:
            time.sleep(2)
            print(json.dumps({"bench": "cross_worker_wake", "workers": 2, "outbox_poll_s": 60,
                              **measure_wake(bot.url, pg, api)}), flush=True)
        finally:
            bot.stop()
    api_server.should_exit = True


# -- profile ---------------------------------------------------------------------------------------

def histogram_sums(text: str, metric: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{metric}_sum\{{[^}}]*\}} (\S+)$", text, re.MULTILINE))


def profile(a: argparse.Namespace) -> None:
    from pyinstrument import Profiler

    from handlers.messages import Incoming

    folder = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    rt = sample_runtime(folder)
    questions = answered_questions(rt)
    rt.engine.handle(Incoming(channel="web", chat_id="warm", user_id="warm", text=questions[0][0]))
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in range(a.turns):
        chat = f"p{i}"
        rt.engine.handle(Incoming(channel="web", chat_id=chat, user_id=chat, text=questions[i % len(questions)][0]))
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    rt.services.db.dispose()
    bot = Bot(folder / "http", bot_env(folder / "http", f"sqlite:///{folder / 'http.sqlite3'}"), 1)
    try:
        one_at_a_time(bot.url, questions, 0)  # warm-up
        before = httpx.get(f"{bot.url}/metrics").text
        client = sum(one_at_a_time(bot.url, questions, a.turns)) / a.turns
        after = httpx.get(f"{bot.url}/metrics").text

        def per_turn(metric: str) -> float:
            return round((histogram_sums(after, metric) - histogram_sums(before, metric)) / (a.turns + 5) * 1000, 1)

        print(json.dumps({"bench": "http_split", "turns": a.turns, "client_ms_per_turn": round(client * 1000, 1),
                          "server_request_ms_per_turn": per_turn("bot_http_request_seconds"),
                          "turn_ms_per_turn": per_turn("bot_turn_seconds"),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}))
    finally:
        bot.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("faults")
    f.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    f.add_argument("--customers", type=int, default=16)
    f.add_argument("--messages", type=int, default=12)
    f.add_argument("--pause", type=float, default=0.5, help="seconds a customer waits before the next message")
    f.add_argument("--kill-after", type=float, default=5.0, help="seconds into the run the worker is killed")
    f.add_argument("--outage-after", type=float, default=3.0, help="seconds after the kill the platforms go down")
    f.add_argument("--outage", type=float, default=60.0, help="seconds the platform APIs are down")
    f.add_argument("--drain", type=float, default=400.0, help="seconds to wait for the last replies")
    t = sub.add_parser("targets")
    t.add_argument("--customers", type=int, default=16)
    t.add_argument("--messages", type=int, default=6)
    t.add_argument("--turns", type=int, default=40)
    t.add_argument("--skip-sqlite", action="store_true")
    p = sub.add_parser("profile")
    p.add_argument("--turns", type=int, default=40)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (bot, nginx, database) on SIGTERM too
    {"faults": faults, "targets": targets, "profile": profile}[a.what](a)


if __name__ == "__main__":
    main()
