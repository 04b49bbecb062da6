package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * With no config file (and none named), or {@code mode = forward} without {@code real}, the shim forwards
 * to the vendor's NVML found through the loader's cache and the usual driver directories, never to
 * itself or another copy of a shim. The machine here has no NVIDIA driver, so each test builds a
 * filesystem root with stand-in libraries (fake_real_nvml.c) and a cache written by the real
 * {@code ldconfig -r}, and points the shim at it with OLLAMA_PATCH_SHIM_ROOT.
 */
class LookupTest {
    static final String LOOKED = "/etc/ld.so.cache, %1$s/usr/lib/x86_64-linux-gnu, %1$s/lib/x86_64-linux-gnu, %1$s/usr/lib64,"
            + " %1$s/lib64, %1$s/usr/lib, %1$s/usr/lib/wsl/lib, %1$s/usr/local/nvidia/lib64, %1$s/usr/local/nvidia/lib";

    @TempDir
    Path root;

    /** A second stand-in whose driver version tells it apart. */
    static Path otherStandIn() {
        return Native.build("fake-real-nvml-dirs.so", "gcc", "-O0", "-fPIC", "-shared", "-Wl,-soname,libnvidia-ml.so.1",
                "-DSTANDIN_DRIVER=\"555.0.0-dirs\"", Native.TEST_C.resolve("fake_real_nvml.c").toString());
    }

    static Path aarch64StandIn() {
        return Native.build("fake-real-nvml.aarch64.so", "aarch64-linux-gnu-gcc", "-O0", "-fPIC", "-shared",
                "-Wl,-soname,libnvidia-ml.so.1", Native.TEST_C.resolve("fake_real_nvml.c").toString());
    }

    Path place(Path lib, String dir, String name) throws IOException {
        Path d = root.resolve(dir.substring(1));
        Files.createDirectories(d);
        return Files.copy(lib, d.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    /** Writes ROOT/etc/ld.so.conf listing dirs and runs the real ldconfig on the root (format: new or compat). */
    void ldconfig(String format, String... dirs) throws Exception {
        Files.createDirectories(root.resolve("etc"));
        Files.writeString(root.resolve("etc/ld.so.conf"), String.join("\n", dirs) + "\n");
        Process p = new ProcessBuilder("ldconfig", "-c", format, "-r", root.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "ldconfig -r: " + out);
    }

    Map<String, String> env() {
        return Map.of(Native.ROOT_ENV, root.toString());
    }

    /** nvml_cli with no config named: the default one under the root is absent. */
    Native.Result noConfig(Path shim, String... commands) {
        List<String> cmd = new java.util.ArrayList<>(List.of(Native.cli().toString(), shim.toString()));
        cmd.addAll(List.of(commands));
        Map<String, String> env = new HashMap<>(env());
        env.put(Native.CONFIG_ENV, "");
        Native.Result r = Native.run(cmd, env, 60);
        assertEquals(0, r.exitCode(), r::stderr);
        return r;
    }

    List<String> direct(Path lib) {
        return Native.cli(lib, root.resolve("unused.conf"), ForwardModeTest.SESSION).lines();
    }

    @ParameterizedTest(name = "ld.so.cache format {0}")
    @ValueSource(strings = {"new", "compat"})
    void noConfigForwardsToTheNvmlInTheLoadersCache(String format) throws Exception {
        place(Native.fakeRealNvml(), "/opt/nvidia/lib", "libnvidia-ml.so.570.86.15");  // ldconfig makes the .so.1 link
        place(otherStandIn(), "/usr/lib/x86_64-linux-gnu", "libnvidia-ml.so.1");          // found later, not used
        ldconfig(format, "/opt/nvidia/lib");
        Native.Result r = noConfig(Native.SHIM_X86_64, ForwardModeTest.SESSION);
        assertEquals(direct(Native.fakeRealNvml()), r.lines());
        assertEquals("", r.stderr());
    }

    @Test
    void noConfigAndNoCacheFindsTheDriverDirectories() throws Exception {
        place(otherStandIn(), "/usr/lib64", "libnvidia-ml.so.1");
        Native.Result r = noConfig(Native.SHIM_X86_64, "init", "driver:80", "count", "shutdown");
        assertEquals(List.of("0", "0 \"555.0.0-dirs\"", "0 2", "0"), r.lines());
    }

    @Test
    void neverTheShimItselfNorACopyOfAShimNorAnotherMachinesLibrary() throws Exception {
        Path cacheDir = root.resolve("opt/shim");
        Files.createDirectories(cacheDir);
        Files.createSymbolicLink(cacheDir.resolve("libnvidia-ml.so.1"), Native.SHIM_X86_64);  // this very file
        ldconfig("new", "/opt/shim");
        place(Native.SHIM_X86_64, "/usr/lib/x86_64-linux-gnu", "libnvidia-ml.so.1");  // a copy: another inode
        place(aarch64StandIn(), "/usr/lib64", "libnvidia-ml.so.1");                   // wrong machine
        place(otherStandIn(), "/usr/lib", "libnvidia-ml.so.1");                       // the one
        Native.Result r = noConfig(Native.SHIM_X86_64, "init", "driver:80", "shutdown");
        assertEquals(List.of("0", "0 \"555.0.0-dirs\"", "0"), r.lines());
        assertEquals("", r.stderr());
    }

    @Test
    void noConfigAndNoNvmlFailsWithOneLineOnce() throws Exception {
        place(Native.SHIM_X86_64, "/usr/lib/x86_64-linux-gnu", "libnvidia-ml.so.1");  // only shims about
        Native.Result r = noConfig(Native.SHIM_X86_64, "init", "init1", "initflags:0", "count");
        assertEquals(List.of("12", "12", "12", "1"), r.lines());
        assertEquals("ollama-patch shim: no config file " + root + "/etc/ollama-patch/shim.conf and no NVIDIA NVML installed"
                + " (looked in " + root + LOOKED.formatted(root) + "); install the NVIDIA driver, or describe the GPUs in"
                + " that file (mode = virtual)\n", r.stderr());
    }

    @Test
    void forwardModeWithoutRealLooksTheSameWay() throws Exception {
        Path config = Native.write(root.resolve("fwd.conf"), "[shim]\nmode = forward\n");
        Native.Result none = Native.cli(Native.SHIM_X86_64, config, env(), "init", "init");
        assertEquals(List.of("12", "12"), none.lines());
        assertEquals("ollama-patch shim: " + config + ":2: forward mode without 'real', and no NVIDIA NVML installed (looked in "
                + root + LOOKED.formatted(root) + ")\n", none.stderr());

        place(Native.fakeRealNvml(), "/usr/lib/x86_64-linux-gnu", "libnvidia-ml.so.1");
        Native.Result r = Native.cli(Native.SHIM_X86_64, config, env(), ForwardModeTest.SESSION);
        assertEquals(direct(Native.fakeRealNvml()), r.lines());
    }

    @Test
    void aDefaultConfigUnderTheRootIsUsedAndANamedMissingOneIsAnError() throws Exception {
        place(Native.fakeRealNvml(), "/usr/lib/x86_64-linux-gnu", "libnvidia-ml.so.1");
        Native.write(root.resolve("etc/ollama-patch/shim.conf"), BadConfigTest.DEVICE0);
        assertEquals(List.of("0", "0 \"570.86.15\"", "0 1"), noConfig(Native.SHIM_X86_64, "init", "driver:80", "count").lines());
        // a file the user named must exist: no silent fallback to another mode
        Path absent = root.resolve("absent.conf");
        Native.Result r = Native.cli(Native.SHIM_X86_64, absent, env(), "init");
        assertEquals(List.of("12"), r.lines());
        assertEquals("ollama-patch shim: " + absent + ": cannot read config file: No such file or directory"
                + " (set OLLAMA_PATCH_SHIM_CONFIG to choose another file)\n", r.stderr());
    }

    @Test
    void aarch64ShimFindsTheAarch64Library() throws Exception {
        place(Native.fakeRealNvml(), "/usr/lib64", "libnvidia-ml.so.1");                 // x86_64: skipped there
        place(aarch64StandIn(), "/usr/lib/aarch64-linux-gnu", "libnvidia-ml.so.1");
        Path cli = Aarch64Test.cli();
        Native.Result r = Native.run(List.of("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", cli.toString(),
                Native.SHIM_AARCH64.toString(), "init", "driver:80", "count", "shutdown"),
                Map.of(Native.ROOT_ENV, root.toString(), Native.CONFIG_ENV, ""), 120);
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals(List.of("0", "0 \"999.1.2-standin\"", "0 2", "0"), r.lines());
    }
}
