"""The approach users start from: Python asyncio + aiohttp, bounded by an asyncio.Semaphore.

Each URL: GET, read the body up to a byte cap, take the <title> by regex and the first N
characters of tag-stripped text. Same job, same protocol as bench/peers/node-peer.mjs:

  stdin line 1: the job, JSON {"urls": [...], "concurrency": N, "maxBytes": B, "snippetLength": L, "warmup": [...]}
  stdout:       "ready" once warmed up (the runner samples CPU/RSS then)
  stdin line 2: "go" (or EOF) starts the run
  stdout:       one JSON line {"makespanMs", "firstResultMs", "results": [{ok, status, title, snippet, bytes}]}
  then waits for stdin to close, so the runner can read this process's CPU time before it exits.

Needs aiohttp: Debian's `apt-get install -y python3-aiohttp` provides it for /usr/bin/python3.
"""
import asyncio
import html
import json
import re
import sys
import time

import aiohttp

TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
BODY = re.compile(r"<body[\s>]", re.I)
HIDDEN = re.compile(r"<(script|style|noscript|template)[\s\S]*?</\1>", re.I)
TAG = re.compile(r"<[^>]*>")
SPACE = re.compile(r"\s+")


def collapse(s):
    return SPACE.sub(" ", s).strip()


def extract(page, n):
    title = TITLE.search(page)
    body = BODY.search(page)
    text = page[body.start():] if body else page
    text = TAG.sub(" ", HIDDEN.sub(" ", text))
    snippet = collapse(html.unescape(text))[:n]
    return {
        "title": collapse(html.unescape(title.group(1))) if title else None,
        "snippet": snippet or None,
    }


async def fetch_one(session, sem, url, job):
    async with sem:
        try:
            async with session.get(url) as resp:
                parts, size = [], 0
                async for chunk in resp.content.iter_any():
                    parts.append(chunk)
                    size += len(chunk)
                    if size >= job["maxBytes"]:
                        break  # leaving the block without reading to the end closes the connection
                body = b"".join(parts)[: job["maxBytes"]]
                fields = extract(body.decode("utf-8", "replace"), job["snippetLength"])
                return {"ok": 200 <= resp.status < 300, "status": resp.status, **fields, "bytes": len(body)}
        except Exception as error:  # a failed URL is a result, not a crash
            return {"ok": False, "status": None, "title": None, "snippet": None, "bytes": 0, "error": repr(error)}


async def run(session, job, urls):
    sem = asyncio.Semaphore(job["concurrency"])
    start = time.perf_counter()
    first = None

    async def one(url):
        nonlocal first
        result = await fetch_one(session, sem, url, job)
        if first is None:
            first = (time.perf_counter() - start) * 1000
        return result

    results = await asyncio.gather(*(one(u) for u in urls))
    return {"makespanMs": (time.perf_counter() - start) * 1000, "firstResultMs": first, "results": results}


async def main():
    loop = asyncio.get_running_loop()
    readline = lambda: loop.run_in_executor(None, sys.stdin.readline)
    job = json.loads(await readline())
    timeout = aiohttp.ClientTimeout(total=job.get("timeoutMs", 60000) / 1000)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if job.get("warmup"):
            await run(session, job, job["warmup"])
        print("ready", flush=True)
        await readline()
        out = await run(session, job, job["urls"])
        print(json.dumps(out), flush=True)
        while await readline():
            pass


asyncio.run(main())
