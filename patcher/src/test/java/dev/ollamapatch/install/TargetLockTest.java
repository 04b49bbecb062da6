package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.Refusal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One holder at a time; released on close; never through a link. */
class TargetLockTest {
    @TempDir
    Path tmp;

    /** The lock, taken: this test holds it first, so nothing else can. */
    private static TargetLock held(Path file) throws IOException {
        TargetLock.Attempt a = TargetLock.tryAcquire(file);
        assertEquals(null, a.refusal());
        return a.lock();
    }

    @Test
    void aSecondHolderIsTurnedAwayUntilTheFirstLetsGo() throws IOException {
        Path file = tmp.resolve(".lock");
        try (TargetLock first = held(file)) {
            Refusal busy = TargetLock.tryAcquire(file).refusal();
            assertEquals(ApplyOutcome.Ending.BUSY, busy.ending());
            assertEquals("another ollama-patch is working on this target (lock " + file + " is held); nothing changed",
                    busy.line());
        }
        try (TargetLock again = held(file)) {
            assertTrue(Files.exists(file));
        }
    }

    @Test
    void aLinkAsTheLockFileIsRefused() throws IOException {
        Path target = tmp.resolve("somewhere");
        Path link = Files.createSymbolicLink(tmp.resolve(".lock"), target);
        TargetLock.Attempt a = TargetLock.tryAcquire(link);
        assertEquals(null, a.lock());
        assertEquals(ApplyOutcome.Ending.REFUSED, a.refusal().ending());
        assertTrue(Files.notExists(target), "nothing created through the link");
    }

    @Test
    void tryingALockHeldElsewhereGivesABusyRefusalAsAValue() throws IOException {
        Path file = tmp.resolve(".lock");
        try (TargetLock first = held(file)) {
            TargetLock.Attempt second = TargetLock.tryAcquire(file);
            assertEquals(null, second.lock());
            assertEquals(ApplyOutcome.Ending.BUSY, second.refusal().ending());
            assertEquals("another ollama-patch is working on this target (lock " + file + " is held); nothing changed",
                    second.refusal().line());
        }
        TargetLock.Attempt free = TargetLock.tryAcquire(file);
        assertEquals(null, free.refusal());
        free.lock().close();
    }
}
