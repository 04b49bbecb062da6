package dev.ollamapatch.patch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The toolchain zoo, in the spirit of patchelf's property-rewrite test: the same small programs
 * ({@code src/test/zoo}: one dlopen, a list of paths tried in order, a library that opens NVML, a
 * library that ends in {@code return dlopen(...)}, DT_NEEDED, and a cgo program naming it in Go)
 * built by every toolchain here (gcc and clang; -O0, -O2, -Os, LTO; ld.bfd, gold, lld, mold; PIE and
 * not; stripped and not; glibc x86_64 and aarch64 under qemu; musl x86_64 and aarch64 (Debian's arm64 musl
 * with the cross gcc, run under qemu by musl's own loader); Go pie/exe with internal
 * and external linking). Each build is one install laid out as Ollama is ({@code bin/ollama}, and
 * {@code lib/ollama/libzoo-opener.so} found through the program's {@code $ORIGIN/../lib/ollama} rpath),
 * patched in place as a whole (the target is the install's root, so the resolver sees the program that
 * calls a tail-called {@code dlopen}) with a stub NVML as the shim, then run by the real loader. The
 * property: every glibc build loads a shim the tool installed and recorded in the manifest's
 * {@code resolves_to} (anything else, a refusal included, is a failure: all can be patched safely); a
 * musl build loads it, or is refused (exit 5) with every file of the install byte for byte as before
 * and nothing added.
 *
 * <p>{@code -Dzoo.only=REGEX} limits the matrix to the builds whose id (printed in the report, e.g.
 * {@code x86_64-glibc-gcc-O2-bfd-pie-tail}, {@code aarch64-go-pie-external}) matches, for a quick loop.
 *
 * <p>Builds run in a pool of one thread per core and are cached under {@code target/zoo-builds}
 * (keyed by the sources and the command line), so a second run only patches and runs.
 */
class ToolchainZooIT {
    private static final Path SRC = Path.of("src/test/zoo").toAbsolutePath();
    private static final Path BUILDS = Path.of("target/zoo-builds").toAbsolutePath();
    private static final Path RUNS = Path.of("target/zoo-runs").toAbsolutePath();
    private static final String GO = Files.isExecutable(Path.of("/usr/local/go/bin/go")) ? "/usr/local/go/bin/go" : "go";


    /** The program and the library of the library programs, where Ollama keeps them (the tool patches these two in a tree). */
    private static final String LIB = "lib/ollama/libzoo-opener.so";

    enum Outcome { LOADED, REFUSED_UNTOUCHED, NOT_BUILDABLE_HERE, FAILED }

    /** One build: everything but stripping. {@code go} is "pie-internal" etc. for the cgo program. */
    record Build(String arch, String libc, String cc, String opt, String ld, boolean pie, String program, String go) {
        String id() {
            return go != null ? arch + "-go-" + go
                    : String.join("-", arch, libc, cc, opt, ld, pie ? "pie" : "nopie", program);
        }

        /** Combinations this machine's toolchains cannot build at all (not a fault of the tool). */
        boolean buildable() {
            // lld cannot read GCC's LTO objects (GCC IR needs GNU ld's or gold's plugin).
            return !(cc.equals("gcc") && opt.equals("lto") && ld.equals("lld"));
        }
    }

    record Case(Build build, boolean strip) {
        String id() { return build.id() + (strip ? "-stripped" : ""); }
    }

    /** {@code how}: the resolutions the manifest records for the install's sites ("tail-call", ...), or empty. */
    record Result(Case c, Outcome outcome, String detail, List<String> how) {
        Result(Case c, Outcome outcome, String detail) { this(c, outcome, detail, List.of()); }
    }

    @Test
    void everyBuildLoadsTheShimOrIsRefusedUntouched() throws Exception {
        String only = System.getProperty("zoo.only", "");
        List<Build> builds = matrix().stream().filter(b -> only.isEmpty() || b.id().matches(only)).toList();
        assertTrue(!builds.isEmpty(), "-Dzoo.only=" + only + " matches no build of the zoo");
        int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        long t0 = System.nanoTime();
        try {
            // Debian's arm64 musl, unpacked by .ci/install-tools (Fixtures.muslArm64 says where, and fails without it).
            if (builds.stream().anyMatch(b -> b.arch().equals("aarch64") && b.libc().equals("musl"))) Fixtures.muslArm64();
            for (Build b : builds) stub(b.arch(), b.libc());
            ldShims();
            Map<Build, Future<String>> built = new LinkedHashMap<>();
            for (Build b : builds) built.put(b, pool.submit(() -> build(b)));
            Map<Build, String> buildErrors = new LinkedHashMap<>();
            for (Map.Entry<Build, Future<String>> e : built.entrySet()) {
                String err = e.getValue().get(10, TimeUnit.MINUTES);
                if (err != null) buildErrors.put(e.getKey(), err);
            }
            long t1 = System.nanoTime();

            List<Case> cases = new ArrayList<>();
            int n = 0;
            for (Build b : builds) {
                // x86_64 both ways; aarch64 (qemu, slower) alternates so both forms are covered there too.
                if (b.arch().equals("x86_64")) {
                    cases.add(new Case(b, false));
                    cases.add(new Case(b, true));
                } else {
                    cases.add(new Case(b, n++ % 2 == 1));
                }
            }
            List<Future<Result>> running = new ArrayList<>();
            for (Case c : cases) {
                running.add(pool.submit(() -> buildErrors.containsKey(c.build())
                        ? new Result(c, c.build().buildable() ? Outcome.FAILED : Outcome.NOT_BUILDABLE_HERE,
                                "build failed: " + buildErrors.get(c.build()))
                        : run(c)));
            }
            List<Result> results = new ArrayList<>();
            for (Future<Result> f : running) results.add(f.get(10, TimeUnit.MINUTES));
            long t2 = System.nanoTime();
            report(results, builds.size(), (t1 - t0) / 1_000_000_000.0, (t2 - t1) / 1_000_000_000.0);

            List<Result> failed = results.stream().filter(r -> r.outcome() == Outcome.FAILED).toList();
            assertTrue(failed.isEmpty(), failed.size() + " of " + results.size() + " builds failed the property:\n"
                    + String.join("\n", failed.stream().limit(40).map(r -> r.c().id() + ": " + r.detail()).toList()));
            long glibc = results.stream().filter(r -> r.c().build().libc().equals("glibc")
                    && r.outcome() != Outcome.NOT_BUILDABLE_HERE).count();
            assertEquals(glibc, results.stream().filter(r -> r.c().build().libc().equals("glibc")
                    && r.outcome() == Outcome.LOADED).count(), "every glibc build loads the shim");
        } finally {
            pool.shutdownNow();
        }
    }

    static List<Build> matrix() {
        List<Build> out = new ArrayList<>();
        List<String> programs = List.of("one", "list", "opener", "tail", "needed");
        for (String arch : List.of("x86_64", "aarch64")) {
            for (String cc : List.of("gcc", "clang")) {
                for (String opt : List.of("O0", "O2", "Os", "lto")) {
                    for (String ld : List.of("bfd", "gold", "lld", "mold")) {
                        for (boolean pie : List.of(true, false)) {
                            for (String p : programs) out.add(new Build(arch, "glibc", cc, opt, ld, pie, p, null));
                        }
                    }
                }
            }
        }
        for (String arch : List.of("x86_64", "aarch64")) {
            for (String opt : List.of("O0", "O2")) {
                for (boolean pie : List.of(true, false)) {
                    for (String p : List.of("one", "list", "opener", "needed")) {
                        out.add(new Build(arch, "musl", "musl-gcc", opt, "bfd", pie, p, null));
                    }
                }
            }
        }
        for (String arch : List.of("x86_64", "aarch64")) {
            for (String mode : List.of("pie", "exe")) {
                for (String link : List.of("internal", "external")) {
                    out.add(new Build(arch, "glibc", "go", "-", link, mode.equals("pie"), "cgo", mode + "-" + link));
                }
            }
        }
        return out;
    }

    // ---- building ------------------------------------------------------------------------------

    private static Path stubDir(String arch, String libc) { return BUILDS.resolve("stub-" + arch + "-" + libc); }

    /** The stand-in shim (SONAME libnvidia-ml.so.1): also what `needed` links against. */
    private static synchronized void stub(String arch, String libc) throws Exception {
        Path dir = stubDir(arch, libc);
        Path so = dir.resolve("libnvidia-ml.so.1");
        if (Files.isRegularFile(so) && Files.getLastModifiedTime(so).compareTo(
                Files.getLastModifiedTime(SRC.resolve("stub.c"))) > 0) return;
        Files.createDirectories(dir);
        String cc = libc.equals("musl") ? Fixtures.muslCc(arch) : arch.equals("aarch64") ? "aarch64-linux-gnu-gcc" : "gcc";
        String err = sh(dir, cc + " -O2 -fPIC -shared -Wl,-soname,libnvidia-ml.so.1 -o libnvidia-ml.so.1 "
                + q(SRC.resolve("stub.c")));
        if (err != null) throw new AssertionError("stub NVML did not build: " + err);
    }

    /** The aarch64 cross gcc finds lld and mold only through -B (it looks for ld.lld beside its own ld). */
    private static void ldShims() throws IOException {
        Path dir = Files.createDirectories(BUILDS.resolve("ldbin"));
        for (String ld : List.of("ld.lld", "ld.mold")) {
            Path link = dir.resolve(ld);
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(link, Path.of("/usr/bin").resolve(ld));
            }
        }
    }

    /** Builds into a cached directory; returns null, or what went wrong. */
    static String build(Build b) throws Exception {
        String script = b.go() != null ? goScript(b) : cScript(b);
        Path dir = buildDir(b, script);
        if (Files.isRegularFile(dir.resolve(".done"))) return null;
        Path tmp = Files.createTempDirectory(BUILDS, ".tmp-" + b.id() + "-");
        Files.createDirectories(tmp.resolve("bin"));
        if (b.program().equals("opener") || b.program().equals("tail")) Files.createDirectories(tmp.resolve("lib/ollama"));
        if (b.go() != null) {
            for (String f : List.of("go/main.go", "go/go.mod", "zoo.h")) {
                Files.copy(SRC.resolve(f), tmp.resolve(Path.of(f).getFileName()));
            }
        }
        String err = sh(tmp, script);
        if (err != null) {
            deleteTree(tmp);
            return err;
        }
        Files.writeString(tmp.resolve(".done"), script);
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException raced) {
            deleteTree(tmp);
        }
        return null;
    }

    /** The cache directory: keyed by the command line and the sources this build reads. */
    private static Path buildDir(Build b, String script) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(script.getBytes(StandardCharsets.UTF_8));
        List<String> sources = switch (b.program()) {
            case "cgo" -> List.of("zoo.h", "go/main.go", "go/go.mod");
            case "opener", "tail" -> List.of("zoo.h", b.program() + ".c", "uselib.c");
            case "needed" -> List.of("zoo.h", "needed.c", "stub.c");
            default -> List.of("zoo.h", b.program() + ".c");
        };
        for (String f : sources) md.update(Files.readAllBytes(SRC.resolve(f)));
        return BUILDS.resolve(b.id() + "-" + HexFormat.of().formatHex(md.digest()).substring(0, 12));
    }

    private static String cScript(Build b) {
        List<String> cc = new ArrayList<>();
        boolean a64 = b.arch().equals("aarch64");
        switch (b.cc()) {
            case "gcc" -> {
                cc.add(a64 ? "aarch64-linux-gnu-gcc" : "gcc");
                if (a64 && (b.ld().equals("lld") || b.ld().equals("mold"))) cc.add("-B" + BUILDS.resolve("ldbin"));
            }
            case "clang" -> {
                cc.add("clang");
                if (a64) cc.add("--target=aarch64-linux-gnu");
            }
            default -> cc.add(Fixtures.muslCc(b.arch()));
        }
        cc.add(b.opt().equals("lto") ? "-O2 -flto" : "-" + b.opt());
        cc.add("-fuse-ld=" + b.ld());
        String c = String.join(" ", cc);
        String exe = b.pie() ? "-fPIE -pie" : "-fno-pie -no-pie";
        String src = q(SRC) + "/";
        return switch (b.program()) {
            case "one", "list" -> c + " " + exe + " -o bin/ollama " + src + b.program() + ".c -ldl";
            case "opener", "tail" -> c + " -fPIC -shared -o " + LIB + " " + src + b.program() + ".c -ldl && "
                    + c + " " + exe + " -o bin/ollama " + src + "uselib.c -Llib/ollama -lzoo-opener '-Wl,-rpath,$ORIGIN/../lib/ollama' -ldl";
            case "needed" -> c + " " + exe + " -o bin/ollama " + src + "needed.c -L" + q(stubDir(b.arch(), b.libc()))
                    + " -l:libnvidia-ml.so.1 -ldl";
            default -> throw new IllegalArgumentException(b.program());
        };
    }

    private static String goScript(Build b) {
        boolean a64 = b.arch().equals("aarch64");
        String[] mode = b.go().split("-");
        return "GOFLAGS=-buildvcs=false GOTOOLCHAIN=local GOOS=linux GOARCH=" + (a64 ? "arm64" : "amd64")
                + " CGO_ENABLED=1 CC=" + (a64 ? "aarch64-linux-gnu-gcc" : "gcc") + " " + GO
                + " build -trimpath -buildmode=" + mode[0] + " '-ldflags=-s -w -linkmode=" + mode[1] + "' -o bin/ollama .";
    }

    // ---- patching and running -----------------------------------------------------------------

    static Result run(Case c) throws Exception {
        Build b = c.build();
        String script = b.go() != null ? goScript(b) : cScript(b);
        Path from = buildDir(b, script);
        Path dir = RUNS.resolve(c.id());
        deleteTree(dir);
        Fixtures.copyInstall(from, dir);
        Files.delete(dir.resolve(".done"));
        boolean library = b.program().equals("opener") || b.program().equals("tail");
        if (c.strip()) {
            String strip = b.arch().equals("aarch64") ? "aarch64-linux-gnu-strip" : "strip";
            String err = sh(dir, strip + " bin/ollama" + (library ? " " + LIB : ""));
            if (err != null) return new Result(c, Outcome.FAILED, "strip: " + err);
        }
        Path shim = stubDir(b.arch(), b.libc()).resolve("libnvidia-ml.so.1");
        Map<String, String> before = tree(dir);
        // The whole install is the target, as a user patches an Ollama tree: program and library together.
        Cli.Result r = Cli.run("apply", dir, "--shim", shim);
        if (r.exit() != 0) {
            boolean untouched = before.equals(tree(dir));
            String why = "apply exit " + r.exit() + ": " + firstLine(r.err());
            if (r.exit() == 5 && untouched && b.libc().equals("musl")) {
                return new Result(c, Outcome.REFUSED_UNTOUCHED, why);
            }
            return new Result(c, Outcome.FAILED, why + (untouched ? "" : " (and the install changed)"));
        }
        // The shims the tool says the loader opens: every resolves_to of the manifest.
        JsonNode manifest = new ObjectMapper().readTree(dir.resolve(".ollama-patch.json").toFile());
        List<Path> resolvesTo = new ArrayList<>();
        List<String> how = new ArrayList<>();
        for (JsonNode f : manifest.path("files")) {
            for (JsonNode site : f.path("sites")) {
                how.add(site.path("resolution").asText("(none)"));
                for (JsonNode t : site.path("resolves_to")) {
                    Path shimAt = dir.resolve(t.asText()).normalize();
                    resolvesTo.add(Files.exists(shimAt) ? shimAt.toRealPath() : shimAt);
                }
            }
        }
        List<String> cmd = new ArrayList<>();
        if (b.arch().equals("aarch64")) {
            cmd.addAll(List.of("qemu-aarch64", "-L", b.libc().equals("musl") ? Fixtures.muslArm64().resolve("root").toString()
                    : "/usr/aarch64-linux-gnu"));
        }
        cmd.add(dir.resolve("bin/ollama").toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("LD_LIBRARY_PATH");
        Process p = start(pb);
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Result(c, Outcome.FAILED, "program timed out", how);
        }
        String text = new String(out, StandardCharsets.ISO_8859_1);
        String loaded = text.lines().filter(l -> l.startsWith("loaded: ")).findFirst().orElse("(no loaded: line) " + text.strip());
        Path file = loaded.startsWith("loaded: /") ? Path.of(loaded.substring("loaded: ".length())) : null;
        if (file != null && resolvesTo.contains(file) && file.startsWith(dir.toRealPath())
                && Arrays.equals(Files.readAllBytes(file), Files.readAllBytes(shim))) {
            return new Result(c, Outcome.LOADED, loaded, how);
        }
        return new Result(c, Outcome.FAILED, "patched (" + String.join(", ", how) + "), but "
                + loaded.replace('\n', ' ') + " (the manifest's resolves_to: " + resolvesTo + ")", how);
    }

    /** Every file of the install (relative path to SHA-256; symlinks by their target): to see that a refusal changed nothing. */
    private static Map<String, String> tree(Path dir) throws Exception {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path f : s.toList()) {
                String rel = dir.relativize(f).toString();
                if (Files.isSymbolicLink(f)) files.put(rel, "-> " + Files.readSymbolicLink(f));
                else if (Files.isDirectory(f)) files.put(rel + "/", "");
                else files.put(rel, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
            }
        }
        return files;
    }

    private static void report(List<Result> results, int builds, double buildSeconds, double runSeconds) {
        Map<Outcome, Integer> counts = new EnumMap<>(Outcome.class);
        Map<String, Map<Outcome, Integer>> byFamily = new TreeMap<>();
        Map<String, Integer> resolutions = new TreeMap<>();
        for (Result r : results) {
            counts.merge(r.outcome(), 1, Integer::sum);
            if (r.outcome() == Outcome.LOADED) for (String h : r.how()) resolutions.merge(h, 1, Integer::sum);
            Build b = r.c().build();
            String family = b.arch() + " " + b.libc() + " " + (b.go() != null ? "go" : b.cc()) + " " + b.program();
            byFamily.computeIfAbsent(family, k -> new EnumMap<>(Outcome.class)).merge(r.outcome(), 1, Integer::sum);
        }
        StringBuilder s = new StringBuilder();
        s.append(String.format("toolchain zoo: %d builds (%.0f s), %d patched and run (%.0f s)%n", builds, buildSeconds,
                results.size(), runSeconds));
        for (Outcome o : Outcome.values()) s.append(String.format("  %-20s %4d%n", o, counts.getOrDefault(o, 0)));
        s.append("  sites of the runs that loaded the shim, by resolution: ").append(resolutions).append('\n');
        s.append("  by family (arch libc compiler program):\n");
        byFamily.forEach((f, m) -> s.append(String.format("    %-40s %s%n", f, m)));
        for (Result r : results) {
            if (r.outcome() != Outcome.LOADED) {
                s.append(String.format("  %-19s %s: %s%n", r.outcome(), r.c().id(), r.detail()));
            }
        }
        System.out.print(s);
        assertEquals(results.size(), counts.values().stream().mapToInt(Integer::intValue).sum());
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** Runs a bash command in {@code dir}; returns null on success, else the tail of its output. */
    private static String sh(Path dir, String command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("LC_ALL", "C");
        Process p = start(pb);
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out: " + command;
        }
        if (p.exitValue() == 0) return null;
        String text = new String(out, StandardCharsets.UTF_8).strip();
        return (text.length() > 400 ? "..." + text.substring(text.length() - 400) : text).replace('\n', ' ');
    }

    /**
     * Starts a process, retrying while the kernel says ETXTBSY: another pool thread forking at the moment
     * this program was copied can briefly hold the copy's write descriptor in its child.
     */
    private static Process start(ProcessBuilder pb) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                return pb.start();
            } catch (IOException e) {
                if (attempt >= 50 || e.getMessage() == null || !e.getMessage().contains("error=26")) throw e;
                Thread.sleep(20);
            }
        }
    }

    private static String q(Path p) { return "'" + p.toString().replace("'", "'\\''") + "'"; }

    private static String firstLine(String s) { return s.lines().findFirst().orElse("").strip(); }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
