package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The capabilities and set-id bits of many files, read with one getcap: each file gets its own line,
 * also when one name is another followed by a space, and a file getcap cannot read has none.
 */
class SecureExecutionTest {
    @Test
    void oneGetcapForManyFilesGivesEachItsOwn(@TempDir Path dir) throws Exception {
        Path b = Files.copy(Path.of("/bin/true"), dir.resolve("b"));
        Path bc = Files.copy(Path.of("/bin/true"), dir.resolve("b c"));
        Path d = Files.copy(Path.of("/bin/true"), dir.resolve("d"));
        Path suid = Files.copy(Path.of("/bin/true"), dir.resolve("suid"));
        Files.setAttribute(suid, "unix:mode", 04755); // POSIX permission sets have no set-id bits
        for (Path p : List.of(bc, d)) {
            String cap = p == d ? "cap_net_raw+ep" : "cap_net_bind_service+ep";
            Process setcap = new ProcessBuilder("setcap", cap, p.toString()).redirectErrorStream(true).start();
            String said = new String(setcap.getInputStream().readAllBytes());
            assertEquals(0, setcap.waitFor(), "setcap (libcap2-bin, as root): " + said);
        }
        // b has none, and getcap's line for "b c" starts with "b ": it is not b's.
        Map<Path, SecureExecution> all = SecureExecution.ofAll(List.of(b, bc, d, suid));
        assertEquals(SecureExecution.NONE, all.get(b));
        assertEquals("cap_net_bind_service=ep", all.get(bc).capabilities());
        assertEquals("cap_net_raw=ep", all.get(d).capabilities());
        assertTrue(all.get(suid).setUid());
        assertFalse(all.get(suid).setGid());
        assertEquals("", all.get(suid).capabilities());
        // One at a time gives the same.
        for (Path p : List.of(b, bc, d, suid)) assertEquals(all.get(p), SecureExecution.of(p), p.toString());
    }
}
