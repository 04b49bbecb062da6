package dev.ollamapatch.cli;

import dev.ollamapatch.patch.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code service install|remove|status} against a root laid out as Ollama's install script leaves it. */
class ServiceCommandTest {
    @TempDir
    Path root;

    /** Ollama's own unit (as its install script writes it), its binary and lib/ollama, and ollama-patch. */
    private void ollamaInstalledByItsScript() throws IOException {
        Files.createDirectories(root.resolve("etc/systemd/system"));
        Files.writeString(root.resolve("etc/systemd/system/ollama.service"), """
                [Unit]
                Description=Ollama Service
                After=network-online.target

                [Service]
                ExecStart=/usr/local/bin/ollama serve
                User=ollama
                Group=ollama
                Restart=always
                RestartSec=3

                [Install]
                WantedBy=default.target
                """);
        Files.createDirectories(root.resolve("usr/local/bin"));
        Files.createDirectories(root.resolve("usr/local/lib/ollama"));
        Files.createDirectories(root.resolve("usr/bin"));
        Files.copy(Path.of("/bin/true"), root.resolve("usr/local/bin/ollama"));
        Files.copy(Path.of("/bin/true"), root.resolve("usr/bin/ollama-patch"));
    }

    private Path dropIn() {
        return root.resolve("etc/systemd/system/ollama.service.d/ollama-patch.conf");
    }

    @Test
    void installPatchesTheInstallTheUnitStartsAndSystemdAcceptsTheDropIn() throws Exception {
        ollamaInstalledByItsScript();
        Cli.Result r = Cli.run("service", "install", "--root", root, "--command", "/usr/bin/ollama-patch");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.readString(dropIn()).contains("ExecStartPre=-+/usr/bin/ollama-patch apply --quiet /usr/local\n"));
        assertEquals(0, systemdAnalyzeVerify(), "systemd-analyze verify rejected the unit with the drop-in");
    }

    @Test
    void theSystemdCheckItselfCatchesADropInSystemdCannotRun() throws Exception {
        ollamaInstalledByItsScript();
        Files.createDirectories(dropIn().getParent());
        Files.writeString(dropIn(), "[Service]\nExecStartPre=+/usr/bin/ollama-patch-missing apply /usr/local\n");
        assertEquals(1, systemdAnalyzeVerify(), "a command that is not there must fail the check");
    }

    @Test
    void installTwiceChangesNothing() throws Exception {
        ollamaInstalledByItsScript();
        Cli.run("service", "install", "--root", root, "--command", "/usr/bin/ollama-patch");
        byte[] first = Files.readAllBytes(dropIn());
        Cli.Result again = Cli.run("service", "install", "--root", root, "--command", "/usr/bin/ollama-patch");
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.out().startsWith("already installed"), again.toString());
        assertEquals(new String(first), Files.readString(dropIn()));
    }

    @Test
    void anExplicitTargetWithSpacesIsQuotedForSystemd() throws Exception {
        ollamaInstalledByItsScript();
        Files.createDirectories(root.resolve("opt/my ollama/bin"));
        Cli.Result r = Cli.run("service", "install", "/opt/my ollama", "--root", root, "--command", "/usr/bin/ollama-patch");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.readString(dropIn()).contains("apply --quiet \"/opt/my ollama\"\n"));
        assertEquals(0, systemdAnalyzeVerify());
    }

    @Test
    void statusShowsWhatRunsAndRemoveTakesItAway() throws Exception {
        ollamaInstalledByItsScript();
        Cli.run("service", "install", "--root", root, "--command", "/usr/bin/ollama-patch");
        Cli.Result status = Cli.run("service", "status", "--root", root);
        assertTrue(status.out().contains("runs:    ExecStartPre=-+/usr/bin/ollama-patch apply --quiet /usr/local"), status.toString());
        Cli.Result removed = Cli.run("service", "remove", "--root", root);
        assertEquals(0, removed.exit(), removed.toString());
        assertFalse(Files.exists(dropIn().getParent()), "the empty ollama.service.d is removed too");
        assertTrue(Cli.run("service", "status", "--root", root).out().contains("drop-in: not installed"));
    }

    @Test
    void aDropInTheToolDidNotWriteIsNeverOverwrittenNorRemoved() throws Exception {
        ollamaInstalledByItsScript();
        Files.createDirectories(dropIn().getParent());
        Files.writeString(dropIn(), "[Service]\nEnvironment=OLLAMA_HOST=0.0.0.0\n");
        Cli.Result install = Cli.run("service", "install", "--root", root, "--command", "/usr/bin/ollama-patch");
        assertEquals(5, install.exit(), install.toString());
        assertEquals(5, Cli.run("service", "remove", "--root", root).exit());
        assertEquals("[Service]\nEnvironment=OLLAMA_HOST=0.0.0.0\n", Files.readString(dropIn()));
    }

    @Test
    void noUnitIsOneLineAndWritesNothing() throws Exception {
        Cli.Result r = Cli.run("service", "install", "--root", root, "--command", "/usr/bin/ollama-patch");
        assertEquals(1, r.exit(), r.toString());
        assertEquals(1, r.err().strip().lines().count(), r.toString());
        assertTrue(r.err().contains("no ollama.service under"), r.toString());
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(0, s.count());
        }
    }

    @Test
    void aRelativeCommandIsAUsageError() throws Exception {
        ollamaInstalledByItsScript();
        assertEquals(2, Cli.run("service", "install", "--root", root, "--command", "ollama-patch").exit());
        assertFalse(Files.exists(dropIn()));
    }

    /** systemd's own reading of the unit and drop-in, with the targets a unit pulls in copied from this host. */
    private int systemdAnalyzeVerify() throws Exception {
        Path units = root.resolve("usr/lib/systemd/system");
        Files.createDirectories(units);
        try (Stream<Path> s = Files.list(Path.of("/usr/lib/systemd/system"))) {
            for (Path t : s.filter(p -> p.getFileName().toString().endsWith(".target")).toList()) {
                Files.copy(t, units.resolve(t.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Process p = new ProcessBuilder("systemd-analyze", "verify", "--root=" + root, "ollama.service")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int code = p.waitFor();
        return code == 0 && out.isBlank() ? 0 : 1;
    }
}
