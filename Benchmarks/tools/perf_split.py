#!/usr/bin/env python3
"""Splits a `perf record` profile of the daemon (cpu-clock samples, self time) into the parts of a
close: SQLite, GRDB, the HTTP client, NIO, signing, XML, logging, metrics, allocation, ARC, the
concurrency runtime, the kernel. Classifies by the sampled function's own symbol: Swift symbols by
the module in their mangled name, C symbols by prefix.

    perf_split.py PERF.data [µs-per-close]      (prints a table; with µs per close, µs too)
"""
import re
import subprocess
import sys
from collections import defaultdict

SWIFT_MODULES = {
    "GRDB": "SQLite (GRDB)", "SQLiteOrderStore": "SQLite (GRDB)",
    "AsyncHTTPClient": "HTTP client (AsyncHTTPClient)",
    "NIOCore": "NIO", "NIOPosix": "NIO", "NIOHTTP1": "NIO", "NIOConcurrencyHelpers": "NIO",
    "_NIODataStructures": "NIO", "NIOEmbedded": "NIO", "NIOTLS": "NIO", "NIOSSL": "NIO", "NIOHTTPCompression": "NIO",
    "NIOFoundationCompat": "NIO", "_NIOBase64": "NIO", "NIOTransportServices": "NIO", "NIOHTTP2": "NIO",
    "Crypto": "signing (swift-crypto)", "_CryptoExtras": "signing (swift-crypto)",
    "Logging": "logging", "ServiceSupport": "logging",
    "Metrics": "metrics", "CoreMetrics": "metrics", "Prometheus": "metrics",
    "OrderClosing": "daemon's own code (OrderClosing, closeorderd)", "closeorderd": "daemon's own code (OrderClosing, closeorderd)",
    "WeChatPayHTTP": "daemon's own code (OrderClosing, closeorderd)",
    "Foundation": "Foundation", "FoundationEssentials": "Foundation", "FoundationInternationalization": "Foundation",
    "ServiceLifecycle": "daemon's own code (OrderClosing, closeorderd)",
    "Swift": "Swift stdlib (strings, collections)",
    "Atomics": "NIO", "DequeModule": "Swift stdlib (strings, collections)", "InternalCollectionsUtilities": "Swift stdlib (strings, collections)",
}
WECHAT = [("Signer|Nonce|APIKey|SignType|HMAC|MD5", "signing (WeChatPayV2)"),
          ("XML", "XML (WeChatPayV2)"), ("", "protocol: verify, classify (WeChatPayV2)")]
C_RULES = [
    (r"^sqlite3|^pcache|^btree|^vdbe|^pager|^unix|^wal", "SQLite (C library)"),
    (r"malloc|^free$|^cfree|^_int_free|^_int_malloc|^realloc|^calloc|^tcache|^swift_slowAlloc|^swift_slowDealloc|^swift_allocObject|^swift_deallocObject|^swift_deallocClassInstance|^unlink_chunk|^malloc_consolidate|^_int_realloc|^aligned_alloc|^posix_memalign|^swift_allocBox|^swift_deallocBox|^sysmalloc", "allocation (malloc, free)"),
    (r"^swift_(retain|release|bridgeObject|unknownObject|nonatomic|tryRetain|isUniquely)|^_swift_release_|^_swift_retain_|^swift::RefCounts|^swift_weak", "ARC (retain/release)"),
    (r"^swift_task|^swift_job|^swift_continuation|^swift::|^swift_asyncLet|^swift_taskGroup|^dispatch_|^_dispatch|^swift_defaultActor|^swift_get_time|^swift_Concurrency|TaskLocal|^swift_cancel|Executor", "Swift concurrency runtime, Dispatch"),
    (r"^swift_dynamicCast|^swift_getGenericMetadata|^swift_conformsTo|^swift_getWitnessTable|^swift_checkMetadataState|^swift_getAssociated|^swift_getTypeByMangled|^swift_|^_swift", "Swift runtime (casts, metadata, other)"),
    (r"^CRYPTO|^MD5|^SHA|^HMAC|^md5|^sha|^EVP|^OPENSSL|^bssl", "signing (swift-crypto)"),
    (r"^mem(cpy|move|set|cmp)|^__mem|^str|^__str|^pthread|^__lll|^futex|^epoll|^__GI|^_IO|^__libc|^clock_gettime|^__vdso|^getentropy|^read$|^write$|^sendmsg|^recvmsg|^__clock", "libc (memcpy, locks, syscall stubs)"),
]


def module_of(symbol):
    if not symbol.startswith(("$s", "_$s")):
        return None
    rest = symbol.lstrip("_")[2:]
    if rest.startswith("S"):
        return "Swift"   # standard-library substitutions (Sa, SS, SD, ...)
    m = re.match(r"(\d+)", rest)
    if not m:
        return None
    n = int(m.group(1))
    return rest[len(m.group(1)):len(m.group(1)) + n]


def category(dso, symbol):
    if dso.startswith("[kernel") or symbol.startswith("[k]"):
        return "kernel (syscalls, network stack, scheduling)"
    module = module_of(symbol)
    if module == "WeChatPayV2":
        for pattern, name in WECHAT:
            if re.search(pattern, symbol):
                return name
    if module in SWIFT_MODULES:
        return SWIFT_MODULES[module]
    if module:
        return "other Swift (" + module + ")"
    for pattern, name in C_RULES:
        if re.search(pattern, symbol):
            return name
    return "other"


def main():
    data = sys.argv[1]
    per_close = float(sys.argv[2]) if len(sys.argv) > 2 else None
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none",
                          "--percent-limit", "0", "--no-demangle"], capture_output=True, text=True).stdout
    totals = defaultdict(float)
    top = defaultdict(list)
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", line)
        if not m:
            continue
        pct, dso, kind, symbol = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        cat = category("[kernel" if kind == "k" else dso, symbol)
        totals[cat] += pct
        top[cat].append((pct, symbol))
    print("| part | share of daemon CPU |" + (" µs per close |" if per_close else ""))
    print("|---|---|" + ("---|" if per_close else ""))
    for cat, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
        extra = " %.1f |" % (pct / 100 * per_close) if per_close else ""
        print("| %s | %.1f %% |%s" % (cat, pct, extra))
    if "-v" in sys.argv:
        for cat, items in top.items():
            print("\n##", cat)
            for pct, sym in sorted(items, reverse=True)[:8]:
                print("  %.2f%% %s" % (pct, sym[:150]))


if __name__ == "__main__":
    main()
