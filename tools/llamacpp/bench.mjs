// llama.cpp (node-llama-cpp 3.21.1, CPU prebuilt binaries) pp/tg tokens/s on
// a GGUF, as medians over runs after one warm-up run, like llama-bench and
// optc generate --bench: pp = one batch of `pp` random tokens evaluated into
// an empty context; tg = `tg` greedy tokens generated one at a time after BOS.
// Rates are given over wall time and over the process's CPU time (user +
// system, as optc generate --bench's "t/s of CPU time"), which on a machine
// shared with other work counts the work done rather than the waiting.
// Prints one JSON line.
//
// usage: node bench.mjs model.gguf [pp=512] [tg=128] [runs=5] [threads=1]
// (make llamacpp-bench installs node-llama-cpp into .cache/llamacpp and runs
// this on stories260K.)
import {getLlama} from "node-llama-cpp";

const [modelPath, pp = 512, tg = 128, runs = 5, threads = 1] = process.argv.slice(2).map((x, i) => (i ? Number(x) : x));
if (!modelPath) {
  console.error("usage: node bench.mjs model.gguf [pp=512] [tg=128] [runs=5] [threads=1]");
  process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads});
const model = await llama.loadModel({modelPath});
const ctx = await model.createContext({contextSize: 2048, threads: {ideal: threads, min: threads}, batchSize: 512, sequences: 1});
const seq = ctx.getSequence();
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// A seeded LCG: the same prompt tokens every run. Ids 3… skip the specials.
let rng = 1;
const rand = (n) => {
  rng = (rng * 1103515245 + 12345) % 2147483648;
  return rng % n;
};
const vocab = model.fileInsights?.tensorInfo?.find?.((t) => t.name === "token_embd.weight")?.dimensions?.[1] ?? 512;
const res = {};
for (const [name, n] of [["pp", pp], ["tg", tg]]) {
  const samples = [];
  const cpu = [];
  for (let r = -1; r < runs; r++) {
    await seq.clearHistory();
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    if (name === "pp") {
      const toks = Array.from({length: n}, () => 3 + rand(Number(vocab) - 3));
      await seq.evaluateWithoutGeneratingNewTokens(toks);
    } else {
      let k = 0;
      for await (const t of seq.evaluate([model.tokens.bos], {temperature: 0})) {
        if (++k >= n) break;
      }
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    if (r >= 0) {
      samples.push(n / s);
      cpu.push(n / ((c.user + c.system) / 1e6));
    }
  }
  res[name + n] = {median: median(samples), min: Math.min(...samples), max: Math.max(...samples), cpu_median: median(cpu)};
}
console.log(JSON.stringify({runtime: "node-llama-cpp 3.21.1 (llama.cpp CPU)", model: modelPath.split("/").pop(), threads, vocab: Number(vocab), ...res}));
await ctx.dispose();
await model.dispose();
await llama.dispose();
