/**
 * The floor: the least a Worker can do for the bench's job, to put fanout's CPU figures in
 * proportion. Same request shape as POST /v1/fetch ({ urls, concurrency }); for each URL it
 * fetches, runs the body through HTMLRewriter with nothing but a <title> handler (drained
 * natively with arrayBuffer()), and stops after 16 KiB. No guard, no retries, no timeouts,
 * no snippet. Whatever this costs in workerd on this machine, every Worker pays.
 */
const CAP = 16_384;

async function one(url) {
  const res = await fetch(url);
  let title = '';
  let seen = 0;
  const capped = res.body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        if (seen >= CAP) return controller.terminate();
        seen += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const out = new HTMLRewriter()
    .on('title', { text: (t) => void (title += t.text) })
    .transform(new Response(capped, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
  await out.arrayBuffer();
  return { ok: res.ok, status: res.status, title: title.replace(/&amp;/g, '&').trim(), bytes: Math.min(seen, CAP) };
}

export default {
  async fetch(request) {
    if (request.method !== 'POST') return new Response('floor\n'); // GET /health while starting
    const { urls, concurrency = 6 } = await request.json();
    const results = new Array(urls.length);
    let next = 0;
    const lane = async () => {
      while (next < urls.length) {
        const i = next++;
        results[i] = await one(urls[i]).catch((error) => ({ ok: false, status: null, title: null, error: String(error) }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, lane));
    return Response.json({ results });
  },
};
