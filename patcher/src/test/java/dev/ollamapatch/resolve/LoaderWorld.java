package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.plan.Replacement;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A small install ({@code bin/}, {@code lib/}) built here by a real compiler, patched with the
 * replacement rule and run by the real loader (aarch64 under qemu-user). Every directory gets a marker
 * {@code nvml.so} whose constructor prints {@code shim loaded: <dir>}, so a run shows exactly which file
 * the loader opened.
 */
final class LoaderWorld implements AutoCloseable {
    /** Long enough that an absolute path under /tmp fits it. */
    static final String NVML = "/usr/local/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1";

    /** A program whose main calls {@code dlopen(name, RTLD_NOW)} and prints whether it got a handle. */
    static String callsDlopen(String name) {
        return """
                #include <dlfcn.h>
                #include <stdio.h>
                int main(void) {
                    void *h = dlopen("%s", RTLD_NOW);
                    if (!h) fprintf(stderr, "%%s\\n", dlerror());
                    printf("handle=%%s\\n", h ? "ok" : "none");
                    return 0;
                }
                """.formatted(name);
    }

    final String arch;
    final Path root;
    /** Sources and the marker shim: beside the install, not in it. */
    private final Path outside;
    private final List<ElfFile> open = new ArrayList<>();

    LoaderWorld(String arch, String name) throws IOException {
        this.arch = arch;
        this.root = Files.createTempDirectory(Path.of("/tmp"), "res-" + name + "-");
        this.outside = Files.createDirectory(Path.of(root + ".src"));
        // Readable by the unprivileged user the secure-execution case runs as.
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String d : List.of("bin", "lib")) {
            Files.createDirectories(root.resolve(d));
            Files.setPosixFilePermissions(root.resolve(d), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    String cc() {
        return cc("gcc");
    }

    /** The C compiler of {@code kind} (gcc or clang) for this world's machine; clang cross-compiles with --target. */
    String cc(String kind) {
        if (kind.equals("clang")) return arch.equals("aarch64") ? "clang --target=aarch64-linux-gnu" : "clang";
        return arch.equals("aarch64") ? "aarch64-linux-gnu-gcc" : "gcc";
    }

    /** The C compiler for musl on this world's machine (aarch64: the cross gcc with Debian's arm64 musl specs). */
    String musl() {
        return dev.ollamapatch.patch.Fixtures.muslCc(arch);
    }

    /** Compiles {@code source} (C text) into {@code out} under the install with {@code compiler} and flags. */
    Path build(String compiler, String out, String source, String... flags) throws Exception {
        Path src = outside.resolve(out.replace('/', '_') + ".c");
        Files.createDirectories(src.getParent());
        Files.writeString(src, source);
        Path target = out.startsWith("/") ? Path.of(out) : root.resolve(out);
        List<String> cmd = new ArrayList<>(Arrays.asList(compiler.split(" ")));
        cmd.addAll(List.of("-o", target.toString(), src.toString()));
        for (String f : flags) if (!f.isEmpty()) cmd.addAll(Arrays.asList(f.split(" ")));
        Run r = exec(cmd, Map.of(), root);
        assertEquals(0, r.exit, "build of " + out + " failed: " + r.err);
        return target;
    }

    /** A marker shim in {@code dir} (relative to the install) that announces the directory it was loaded from. */
    void marker(String compiler, String dir) throws Exception {
        build(compiler, dir + "/nvml.so", """
                #include <stdio.h>
                __attribute__((constructor)) static void hello(void) {
                    fprintf(stdout, "shim loaded: %s\\n", MARKER); fflush(stdout);
                }
                """, "-shared", "-fPIC", "-DMARKER=\"" + root.resolve(dir) + "\"");
    }

    /**
     * A shim stand-in for {@code apply --shim}: SONAME libnvidia-ml.so.1, and a constructor that prints the
     * path the loader opened it by ({@code shim loaded: <path>}, runs of '/' as the loader kept them).
     */
    Path markerShim(String compiler) throws Exception {
        return build(compiler, outside.resolve("marker-shim.so").toString(), """
                #define _GNU_SOURCE
                #include <dlfcn.h>
                #include <stdio.h>
                static void hello(void) __attribute__((constructor));
                static void hello(void) {
                    Dl_info info;
                    if (dladdr((void *) hello, &info)) printf("shim loaded: %s\\n", info.dli_fname);
                    fflush(stdout);
                }
                """, "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1");
    }

    /** The install as the resolver sees it: every ELF file with its mode and capabilities read from disk. */
    Resolver resolver() throws Exception {
        List<Resolver.Member> members = new ArrayList<>();
        for (String d : List.of("bin", "lib")) {
            try (var s = Files.list(root.resolve(d))) {
                for (Path p : s.sorted().toList()) {
                    if (p.getFileName().toString().equals("nvml.so")) continue;
                    ElfFile elf = ElfFile.open(p);
                    open.add(elf);
                    members.add(new Resolver.Member(p, elf, SecureExecution.of(p)));
                }
            }
        }
        return new Resolver(members);
    }

    /** The resolution of the NUL-terminated string {@code text} in {@code file}. */
    Resolution resolve(Resolver resolver, Path file, String text, boolean dynstr) throws Exception {
        long offset = offsetOf(file, text);
        try (ElfFile elf = ElfFile.open(file)) {
            long vaddr = elf.vaddrOf(offset).orElseThrow();
            return resolver.resolve(file, vaddr, text.length(), dynstr);
        }
    }

    static long offsetOf(Path file, String text) throws IOException {
        byte[] data = Files.readAllBytes(file);
        byte[] needle = (text + "\0").getBytes(StandardCharsets.ISO_8859_1);
        long found = -1;
        outer:
        for (int i = 0; i + needle.length <= data.length; i++) {
            for (int j = 0; j < needle.length; j++) if (data[i + j] != needle[j]) continue outer;
            if (found >= 0) throw new AssertionError(text + " occurs twice in " + file);
            found = i;
        }
        assertTrue(found >= 0, text + " not found in " + file);
        return found;
    }

    /** Writes {@code path} into the site holding {@code text} by the replacement rule (same length, '/' padding). */
    static void patch(Path file, String text, String path) throws IOException {
        long offset = offsetOf(file, text);
        byte[] data = Files.readAllBytes(file);
        byte[] rep = Replacement.of(path, text.length());
        System.arraycopy(rep, 0, data, (int) offset, rep.length);
        Files.write(file, data);
    }

    record Run(int exit, String out, String err) {
        /** The directories whose marker shim announced itself. */
        List<String> loaded() {
            return out.lines().filter(l -> l.startsWith("shim loaded: ")).map(l -> l.substring(13)).toList();
        }

        /** The files the marker shim was loaded from, with runs of '/' read as one (as the kernel does). */
        List<Path> loadedFiles() {
            return loaded().stream().map(l -> Path.of(l.replaceAll("/+", "/"))).toList();
        }
    }

    /** Runs a program of the install (under qemu for aarch64), optionally as another user through setpriv. */
    Run run(Path program, String asUser) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (asUser != null) cmd.addAll(List.of("setpriv", "--reuid=" + asUser, "--regid=nogroup", "--clear-groups"));
        if (arch.equals("aarch64")) {
            // qemu-user finds the program's interpreter under -L: glibc's cross root, or Debian's arm64 musl.
            boolean musl;
            try (ElfFile elf = ElfFile.open(program)) {
                musl = Loader.interpreter(elf).map(i -> i.contains("ld-musl")).orElse(false);
            }
            cmd.addAll(List.of(qemuFor(program), "-L", musl ? dev.ollamapatch.patch.Fixtures.muslArm64().resolve("root").toString()
                    : "/usr/aarch64-linux-gnu"));
        }
        cmd.add(program.toString());
        return exec(cmd, Map.of(), root);
    }

    /**
     * The qemu-aarch64 that runs {@code program} as the kernel would with binfmt_misc's {@code C} flag
     * (credentials and so secure execution from the program, not from qemu): qemu itself when the program
     * has no set-id bits or file capabilities, else a copy of qemu given the same ones. qemu-user hands its own
     * {@code AT_SECURE} to the guest (linux-user/elfload.c: {@code NEW_AUX_ENT(AT_SECURE,
     * qemu_getauxval(AT_SECURE))}), so the guest's ld.so sees secure execution exactly when the kernel set it
     * for the qemu process. An explicit {@code qemu-aarch64 prog}, as elsewhere, never does: the kernel execs
     * qemu, whose file has no privileges.
     */
    private String qemuFor(Path program) throws Exception {
        SecureExecution s = SecureExecution.of(program);
        if (!s.secure()) return "qemu-aarch64";
        Path qemu = outside.resolve("qemu-aarch64-" + (s.setUid() ? "u" : "") + (s.setGid() ? "g" : "")
                + s.capabilities().replaceAll("[^a-z_+=]", ""));
        if (!Files.exists(qemu)) {
            Files.copy(Path.of("/usr/bin/qemu-aarch64"), qemu);
            Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rwxr-xr-x"));
            int mode = 0755 | (s.setUid() ? 04000 : 0) | (s.setGid() ? 02000 : 0);
            Run chmod = exec(List.of("chmod", Integer.toOctalString(mode), qemu.toString()), Map.of(), root);
            assertEquals(0, chmod.exit, chmod.err);
            if (!s.capabilities().isEmpty()) {
                Run setcap = exec(List.of("setcap", s.capabilities(), qemu.toString()), Map.of(), root);
                assertEquals(0, setcap.exit, setcap.err);
            }
        }
        return qemu.toString();
    }

    static Run exec(List<String> cmd, Map<String, String> env, Path dir) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().remove("LD_LIBRARY_PATH");
        pb.environment().putAll(env);
        Path out = Files.createTempFile("res", ".out"), err = Files.createTempFile("res", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + cmd);
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.ISO_8859_1),
                    Files.readString(err, StandardCharsets.ISO_8859_1));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Override
    public void close() throws IOException {
        for (ElfFile e : open) e.close();
        for (Path dir : List.of(root, outside)) {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

}
