package dev.ollamapatch.service;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SystemdDropInTest {
    @Test
    void runsApplyQuietAsRootBeforeEveryStartAndNeverBlocksTheStart() {
        String text = SystemdDropIn.render(Path.of("/usr/bin/ollama-patch"), Path.of("/usr/local"));
        assertTrue(text.contains("\n[Service]\nExecStartPre=-+/usr/bin/ollama-patch apply --quiet /usr/local\n"), text);
        assertTrue(SystemdDropIn.isOurs(text));
        assertEquals("ExecStartPre=-+/usr/bin/ollama-patch apply --quiet /usr/local",
                SystemdDropIn.execStartPre(text).orElseThrow());
    }

    @Test
    void aUsersOwnDropInIsNotOurs() {
        assertFalse(SystemdDropIn.isOurs("[Service]\nEnvironment=OLLAMA_HOST=0.0.0.0\n"));
    }

    @Test
    void quotesWordsSystemdWouldSplitOrExpand() {
        assertEquals("/opt/ollama", SystemdDropIn.quote("/opt/ollama"));
        assertEquals("\"/opt/my ollama\"", SystemdDropIn.quote("/opt/my ollama"));
        assertEquals("/opt/100%%", SystemdDropIn.quote("/opt/100%"));
        assertEquals("/opt/$$HOME", SystemdDropIn.quote("/opt/$HOME"));
        assertEquals("\"/opt/a\\\"b\\\\c\"", SystemdDropIn.quote("/opt/a\"b\\c"));
        assertThrows(IllegalArgumentException.class, () -> SystemdDropIn.quote("/opt/a\nb"));
    }
}
