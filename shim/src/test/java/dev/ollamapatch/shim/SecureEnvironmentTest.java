package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The shim reads its environment with secure_getenv: a program with file capabilities, run by an
 * ordinary user, is not steered by its caller's OLLAMA_PATCH_SHIM_CONFIG (which could name a 'real'
 * library to load or a 'trace' file to create) nor by OLLAMA_PATCH_SHIM_ROOT. Needs root to set the
 * capability and to switch to the user nobody (as CI runs, and as InPlaceInstallTest needs too).
 */
class SecureEnvironmentTest {
    final Path dir = Native.OUT.resolve("secure-env");

    @AfterEach
    void clean() throws Exception {
        if (Files.exists(dir)) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    Path copy(Path from, String name, String perms) throws Exception {
        Path to = Files.copy(from, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString(perms));
        return to;
    }

    Native.Result asNobody(Path program, Path shim, Map<String, String> env, String... commands) {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                program.toString(), shim.toString()));
        cmd.addAll(List.of(commands));
        Native.Result r = Native.run(cmd, env, 60);
        assertEquals(0, r.exitCode(), r::stderr);
        return r;
    }

    @Test
    void aProgramWithFileCapabilitiesIgnoresTheCallersEnvironment() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")),
                "setting a file capability and switching to nobody need root; the test suite runs as root in CI");
        clean();
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path shim = copy(Native.SHIM_X86_64, "nvml.so", "rwxr-xr-x");
        Path plain = copy(Native.cli(), "nvml_cli", "rwxr-xr-x");
        Path capable = copy(Native.cli(), "nvml_cli-cap", "rwxr-xr-x");
        Process p = new ProcessBuilder("setcap", "cap_net_bind_service=+ep", capable.toString()).inheritIO().start();
        assertEquals(0, p.waitFor(), "setcap (needs root)");
        Path trace = dir.resolve("trace.log");
        Path config = Native.write(dir.resolve("shim.conf"), "[shim]\ntrace = " + trace + "\n" + BadConfigTest.DEVICE0);
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));  // nobody may create the trace
        Map<String, String> env = Map.of(Native.CONFIG_ENV, config.toString(), Native.ROOT_ENV, dir.toString());

        // control: the same program without the capability follows the environment
        assertEquals(List.of("0", "0 1"), asNobody(plain, shim, env, "init", "count").lines());
        assertTrue(Files.exists(trace));
        Files.delete(trace);

        // with it, the named config and root are ignored: the default /etc/ollama-patch/shim.conf is absent on
        // the test machine and no NVIDIA driver is installed, so init fails, naming the real default path
        Native.Result r = asNobody(capable, shim, env, "init", "count");
        assertEquals(List.of("12", "1"), r.lines());
        assertTrue(r.stderr().startsWith("ollama-patch shim: no config file /etc/ollama-patch/shim.conf and no NVIDIA NVML"
                + " installed (looked in /etc/ld.so.cache, /usr/lib/x86_64-linux-gnu,"), r.stderr());
        assertFalse(Files.exists(trace), "the trace named by the caller's config was not created");
    }
}
