package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.report.PatchException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One holder at a time; released on close; never through a link. */
class TargetLockTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondHolderIsTurnedAwayUntilTheFirstLetsGo() throws IOException {
        Path file = tmp.resolve(".lock");
        try (TargetLock first = TargetLock.acquire(file)) {
            PatchException busy = assertThrows(PatchException.class, () -> TargetLock.acquire(file));
            assertEquals(PatchException.Kind.FAILED, busy.kind());
            assertEquals("another ollama-patch is working on this target (lock " + file + " is held); nothing changed",
                    busy.getMessage());
        }
        try (TargetLock again = TargetLock.acquire(file)) {
            assertTrue(Files.exists(file));
        }
    }

    @Test
    void aLinkAsTheLockFileIsRefused() throws IOException {
        Path target = tmp.resolve("somewhere");
        Path link = Files.createSymbolicLink(tmp.resolve(".lock"), target);
        PatchException e = assertThrows(PatchException.class, () -> TargetLock.acquire(link));
        assertEquals(PatchException.Kind.REFUSED, e.kind());
        assertTrue(Files.notExists(target), "nothing created through the link");
    }

    @Test
    void tryingALockHeldElsewhereGivesABusyRefusalAsAValue() throws IOException {
        Path file = tmp.resolve(".lock");
        try (TargetLock first = TargetLock.acquire(file)) {
            TargetLock.Attempt second = TargetLock.tryAcquire(file);
            assertEquals(null, second.lock());
            assertEquals(dev.ollamapatch.report.ApplyOutcome.Ending.BUSY, second.refusal().ending());
            assertEquals("another ollama-patch is working on this target (lock " + file + " is held); nothing changed",
                    second.refusal().line());
        }
        TargetLock.Attempt free = TargetLock.tryAcquire(file);
        assertEquals(null, free.refusal());
        free.lock().close();
    }
}
