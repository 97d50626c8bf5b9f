/* Checks, in the browser, that each listed access event is in the signed
   transparency log (RFC 9162 inclusion proof against an Ed25519-signed
   C2SP checkpoint), and that the log only grew since the last checkpoint
   this browser saw (consistency proof). Nothing here trusts the page:
   hashes are recomputed from the event bytes. */
"use strict";
(() => {
  if (!window.crypto || !crypto.subtle) return;
  const status = document.getElementById("log-status");
  const msg = (k) => (status && status.dataset["msg" + k[0].toUpperCase() + k.slice(1)]) || k;
  const enc = new TextEncoder();
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const cat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0; for (const p of parts) { out.set(p, i); i += p.length; } return out; };
  const sha = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const leafHash = (d) => sha(cat(Uint8Array.of(0), d));
  const nodeHash = (l, r) => sha(cat(Uint8Array.of(1), l, r));

  const hashes = (...xs) => xs.every((x) => x instanceof Uint8Array && x.length === 32);

  // RFC 9162 2.1.3.2
  async function verifyInclusion(index, size, leaf, proof, root) {
    proof = proof || [];
    if (index >= size || !hashes(leaf, root, ...proof)) return false;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(r, root);
  }

  // RFC 9162 2.1.4.2
  async function verifyConsistency(first, second, root1, root2, proof) {
    proof = proof || [];
    if (first === 0) return false;  // nothing to be consistent with, even at size 0
    if (first === second) return proof.length === 0 && same(root1, root2);
    if (first > second || proof.length === 0 || !hashes(root1, root2, ...proof)) return false;
    if ((first & (first - 1)) === 0) proof = [root1, ...proof];
    let fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = proof[0], sr = proof[0];
    for (const c of proof.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
        if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(fr, root1) && same(sr, root2);
  }

  // C2SP signed note with one Ed25519 signature; vkey name+hexid+base64(0x01||key)
  async function openCheckpoint(note, vkey) {
    // name+hexid+base64: the base64 part may itself contain "+".
    const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
    const [name, hexId, keyB64] = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
    const keyBytes = b64(keyB64);
    const split = note.indexOf("\n\n");
    const body = note.slice(0, split + 1), lines = body.split("\n");
    const sigLine = note.slice(split + 2).split("\n").find((l) => l.startsWith("\u2014 " + name + " "));
    if (!sigLine || lines.length < 4 || lines[0] !== name) throw new Error(msg("badCheckpoint"));
    const sig = b64(sigLine.split(" ")[2]);
    const id = (await sha(cat(enc.encode(name), Uint8Array.of(0x0a), keyBytes))).slice(0, 4);
    if (!same(id, sig.slice(0, 4)) || hexId !== [...id].map((x) => x.toString(16).padStart(2, "0")).join(""))
      throw new Error(msg("badKey"));
    let key = null;
    try {
      key = await crypto.subtle.importKey("raw", keyBytes.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      // Only a browser without Ed25519 may rely on the server's check; a key
      // that does not import is a failure.
      if (e.name !== "NotSupportedError") throw new Error(msg("badKey"));
    }
    const signed = key ? await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(body)) : null;
    if (signed === false) throw new Error(msg("badSignature"));
    return { size: Number(lines[1]), root: b64(lines[2]), rootB64: lines[2], signedHere: signed === true,
             body, signatures: note.slice(split + 2).split("\n").filter((l) => l) };
  }

  // C2SP tlog-cosignature/v1: a witness signs "cosignature/v1\ntime <t>\n" + the checkpoint's text;
  // its line holds key id (4) || big-endian time (8) || Ed25519 signature (64). Lines by witnesses
  // not in `witnesses` are ignored; a bad one by a known witness fails the checkpoint.
  async function cosignatures(cp, witnesses) {
    const vouched = {}, keys = new Set();
    for (const w of witnesses) {
      const first = w.key.indexOf("+"), second = w.key.indexOf("+", first + 1);
      const keyBytes = b64(w.key.slice(second + 1));
      // An Ed25519 cosignature does not sign the witness's name: a key counts once, whatever its names.
      if (keys.has(w.key.slice(second + 1))) continue;
      keys.add(w.key.slice(second + 1));
      const id = (await sha(cat(enc.encode(w.name), Uint8Array.of(0x0a), keyBytes))).slice(0, 4);
      if (keyBytes[0] !== 0x04 || keyBytes.length !== 33) throw new Error(msg("badWitness"));
      for (const line of cp.signatures) {
        const parts = line.split(" ");
        if (parts.length !== 3 || parts[0] !== "\u2014" || parts[1] !== w.name) continue;
        const blob = b64(parts[2]);
        if (!same(blob.slice(0, 4), id)) continue;
        if (blob.length !== 76) throw new Error(msg("badWitness"));
        const time = new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
        let key = null;
        try {
          key = await crypto.subtle.importKey("raw", keyBytes.slice(1), { name: "Ed25519" }, false, ["verify"]);
        } catch (e) {
          if (e.name !== "NotSupportedError") throw new Error(msg("badWitness"));
          return null;  // this browser cannot check: the server's check stands
        }
        const message = cat(enc.encode(`cosignature/v1\ntime ${time}\n`), enc.encode(cp.body));
        if (time === 0n || !await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(12), message))
          throw new Error(msg("badWitness"));
        vouched[w.name] = new Date(Number(time) * 1000);
      }
    }
    return vouched;
  }

  // The witnesses (by name, with their times) vouching for a checkpoint; throws when fewer than the
  // quorum do. null: this browser cannot check Ed25519 (the server checked the quorum).
  async function requireQuorum(cp, policy) {
    const vouched = await cosignatures(cp, policy.witnesses);
    if (vouched !== null && Object.keys(vouched).length < policy.quorum) throw new Error(msg("notWitnessed"));
    return vouched;
  }

  async function checkEntry(el, vkey, policy, bundle) {
    if (!bundle) throw new Error(msg("notIncluded"));
    const cp = await openCheckpoint(bundle.checkpoint, vkey);
    if (!cp.signedHere && bundle.checkpoint_verified_by_server !== true) throw new Error(msg("badSignature"));
    cp.vouched = await requireQuorum(cp, policy);
    if (cp.vouched === null) cp.signedHere = false;
    const d = await sha(cat(b64(bundle.salt), enc.encode(bundle.event)));
    const ok = await verifyInclusion(bundle.leaf_index, cp.size, await leafHash(d),
                                     bundle.proof.map(b64), cp.root);
    if (!ok) throw new Error(msg("notIncluded"));
    // What the page shows must be the event whose bytes were verified.
    const ev = JSON.parse(bundle.event), row = el.dataset;
    const same_ = ev.id === row.id && ev.kind === row.kind && ev.outcome === row.outcome &&
      (ev.purpose || "") === row.purpose && (ev.institution_id || "") === row.institution &&
      ev.occurred_at === row.at;
    if (!same_) throw new Error(msg("mismatch"));
    return cp;
  }

  async function run() {
    const entries = [...document.querySelectorAll(".verify[data-proof-url]")];
    const vkey = (await (await fetch(status.dataset.keyUrl)).text()).trim();
    const policy = await (await fetch(status.dataset.witnessesUrl)).json();
    // Every entry's proof in one request, against one checkpoint.
    let bundles = {}, waiting = [];
    if (entries.length) {
      const query = entries.map((el) => "event=" + encodeURIComponent(el.dataset.id)).join("&");
      ({ bundles, waiting } = await (await fetch(status.dataset.proofsUrl + "?" + query, { credentials: "same-origin" })).json());
    }
    // The witnesses are pinned on first use: a portal that later names fewer, or others, or asks
    // for a smaller quorum (to show this browser a log nobody vouched for) is caught.
    const pinKey = "portal.witnesses." + status.dataset.keyUrl;
    const pinned = JSON.parse(localStorage.getItem(pinKey) || "null");
    const served = new Set(policy.witnesses.map((w) => w.key));
    if (pinned && (policy.quorum < pinned.quorum || !pinned.keys.every((k) => served.has(k)))) {
      status.textContent = msg("failed") + " " + msg("witnessesChanged");
      status.classList.add("bad");
      return;
    }
    let newest = null, failures = 0, unsigned = false, pending = 0;
    for (const el of entries) {
      if (!bundles[el.dataset.id] && waiting.includes(el.dataset.id)) {
        el.textContent = msg("waiting"); pending += 1; continue;  // in the log; its checkpoint awaits the witnesses
      }
      try {
        const cp = await checkEntry(el, vkey, policy, bundles[el.dataset.id]);
        unsigned = unsigned || !cp.signedHere;
        if (!newest || cp.size > newest.size) newest = cp;
        el.textContent = msg("verified"); el.classList.add("ok");
      } catch (e) {
        failures += 1; el.textContent = msg("failed") + " " + e.message; el.classList.add("bad");
      }
    }
    let text = failures ? msg("someFailed")
      : pending ? msg("someWaiting")
      : (entries.length ? msg("allVerified") : msg("nothingToCheck"));
    if (unsigned) text += " " + msg("serverSigned");
    if (newest && newest.vouched && Object.keys(newest.vouched).length) {
      const names = Object.entries(newest.vouched).map(([n, t]) => `${n} (${t.toLocaleString()})`).join(", ");
      text += " " + msg("witnessed").replace("{witnesses}", names);
    } else if (newest && !failures && policy.quorum === 0) {
      text += " " + msg("unwitnessed");
    }
    // The log must only ever grow: check against the last checkpoint seen here.
    const seenKey = "portal.checkpoint." + status.dataset.keyUrl;
    const seen = JSON.parse(localStorage.getItem(seenKey) || "null");
    if (newest && seen && seen.size <= newest.size) {
      const url = `${status.dataset.consistencyUrl}?first=${seen.size}&second=${newest.size}`;
      const ok = seen.size === newest.size ? same(b64(seen.root), newest.root)
        : seen.size > 0 && await verifyConsistency(seen.size, newest.size, b64(seen.root), newest.root,
            (await (await fetch(url)).json()).proof.map(b64));
      text += " " + (ok ? msg("grew") : msg("rewritten"));
      if (!ok) failures += 1;
    } else if (newest && seen && seen.size > newest.size) {
      text += " " + msg("shrank"); failures += 1;
    }
    if (newest && !failures) {
      localStorage.setItem(seenKey, JSON.stringify({ size: newest.size, root: newest.rootB64 }));
      if (!pinned && policy.quorum > 0)
        localStorage.setItem(pinKey, JSON.stringify({ quorum: policy.quorum, keys: [...served] }));
    }
    status.textContent = text;
    status.classList.toggle("bad", failures > 0);
    status.classList.toggle("ok", failures === 0 && pending === 0);
  }

  // The verifiers, for anyone who wants to check other proofs (and for tests).
  window.PortalLog = { verifyInclusion, verifyConsistency, openCheckpoint, cosignatures, requireQuorum, leafHash, b64 };
  if (!status) return;
  status.textContent = msg("checking");
  run().catch((e) => { status.textContent = msg("failed") + " " + e.message; status.classList.add("bad"); });
})();
