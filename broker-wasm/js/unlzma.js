// LZMA decoder for the inlined wasm. tools/pack.mjs compresses the wasm with
// `xz --format=raw --lzma1=preset=9e,lc=3,lp=0,pb=0` (~10% smaller than the best deflate,
// zopfli, which is what DecompressionStream offers), and this decoder costs far less than that
// saves. It follows the LZMA specification (LzmaSpec.cpp in the LZMA SDK), specialised to those
// parameters — lc=3 (literal context: the top 3 bits of the previous byte), lp=0, pb=0 (no
// position state) — and to a known output size: decoding stops there, so the end marker is never
// read, and the output buffer is the whole dictionary. pack.mjs runs this very function on its
// own output and fails the build unless it gives the wasm back byte for byte.
//
// `src`: the compressed bytes; `size`: the decompressed size. Returns a Uint8Array.
function unlzma(src, size) {
  var out = new Uint8Array(size);
  // Every adaptive probability (11-bit, starting at one half) in one array, at these offsets:
  // 0 isMatch, 12 isRep, 24 isRepG0, 36 isRepG1, 48 isRepG2, 60 isRep0Long (one per state);
  // 72 the distance slot trees (4 × 64); 328 the distance low bits (115); 443 the distance align
  // bits (16); 459 the match length coder and 733 the repeated-match length coder (274 each:
  // choice, choice2, low 8, mid 8, high 256); 1007 the literal coders (8 contexts × 0x300).
  var probs = new Uint16Array(7151).fill(1024);
  var range = 0xffffffff;
  var code = 0;
  var at = 1; // src[0] is always 0
  while (at < 5) code = ((code << 8) | src[at++]) >>> 0;

  // One bit of probability probs[i], adapting it.
  function bit(i) {
    var p = probs[i];
    var bound = (range >>> 11) * p;
    var b = 0;
    if (code < bound) {
      range = bound;
      probs[i] = p + ((2048 - p) >> 5);
    } else {
      range -= bound;
      code -= bound;
      probs[i] = p - (p >> 5);
      b = 1;
    }
    if (range < 0x1000000) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | src[at++]) >>> 0;
    }
    return b;
  }

  // n bits of probability one half each, most significant first.
  function direct(n) {
    var r = 0;
    while (n--) {
      range >>>= 1;
      var b = code >= range ? 1 : 0;
      if (b) code -= range;
      r = (r << 1) | b;
      if (range < 0x1000000) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | src[at++]) >>> 0;
      }
    }
    return r;
  }

  // An n-bit symbol through the bit tree at probs[base + 1 ...], most significant bit first.
  function tree(base, n) {
    var m = 1;
    for (var i = 0; i < n; i++) m = (m << 1) | bit(base + m);
    return m - (1 << n);
  }

  // The same, least significant bit first.
  function reverse(base, n) {
    var m = 1;
    var r = 0;
    for (var i = 0; i < n; i++) {
      var b = bit(base + m);
      m = (m << 1) | b;
      r |= b << i;
    }
    return r;
  }

  // A match length minus 2, from the length coder at probs[base].
  function length(base) {
    if (!bit(base)) return tree(base + 2, 3);
    if (!bit(base + 1)) return 8 + tree(base + 10, 3);
    return 16 + tree(base + 18, 8);
  }

  var state = 0;
  var rep0 = 0;
  var rep1 = 0;
  var rep2 = 0;
  var rep3 = 0;
  var pos = 0;
  while (pos < size) {
    if (!bit(state)) {
      // A literal, coded in the context of the previous byte (out[-1] is undefined: context 0);
      // right after a match, also of the byte at the last distance.
      var base = 1007 + 0x300 * (out[pos - 1] >> 5);
      var s = 1;
      if (state >= 7) {
        var match = out[pos - rep0 - 1];
        for (;;) {
          var mb = (match >> 7) & 1;
          match <<= 1;
          var b = bit(base + ((1 + mb) << 8) + s);
          s = (s << 1) | b;
          if (mb !== b || s >= 0x100) break;
        }
      }
      while (s < 0x100) s = (s << 1) | bit(base + s);
      out[pos++] = s;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    var len;
    if (bit(12 + state)) {
      // A repeated distance: the last (one byte only, or with a length), or an older one.
      if (!bit(24 + state)) {
        if (!bit(60 + state)) {
          state = state < 7 ? 9 : 11;
          out[pos] = out[pos - rep0 - 1];
          pos++;
          continue;
        }
      } else {
        var d;
        if (!bit(36 + state)) {
          d = rep1;
        } else {
          if (!bit(48 + state)) {
            d = rep2;
          } else {
            d = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = d;
      }
      len = length(733);
      state = state < 7 ? 8 : 11;
    } else {
      // A new match: its length, then its distance (slot, then the bits below it).
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      len = length(459);
      state = state < 7 ? 7 : 10;
      var slot = tree(72 + 64 * (len < 3 ? len : 3), 6);
      if (slot < 4) {
        rep0 = slot;
      } else {
        var n = (slot >> 1) - 1;
        rep0 = (2 | (slot & 1)) << n;
        if (slot < 14) rep0 += reverse(328 + rep0 - slot, n);
        else rep0 += (direct(n - 4) << 4) + reverse(443, 4);
      }
    }
    for (len += 2; len > 0 && pos < size; len--) {
      out[pos] = out[pos - rep0 - 1];
      pos++;
    }
  }
  return out;
}
