package dev.ollamapatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.Refusal;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Results become exit codes in one place; a run stopped before any file is told as a failure is. */
class ExitCodesTest {
    @Test
    void everyEndingHasItsDocumentedExitCode() {
        assertEquals(0, ExitCodes.of(ApplyOutcome.Ending.DONE));
        assertEquals(3, ExitCodes.of(ApplyOutcome.Ending.NOTHING_TO_PATCH));
        assertEquals(5, ExitCodes.of(ApplyOutcome.Ending.REFUSED));
        assertEquals(1, ExitCodes.of(ApplyOutcome.Ending.BUSY), "another run holds the lock: failed, nothing changed");
    }

    @Test
    void aStoppedRunPrintsOneEscapedLineAndWithJsonAnErrorDocument() {
        ApplyOutcome stopped = Refusal.refused("x.tar: SHA-256 is 00, expected 11;\nnothing written").outcome();
        assertEquals(true, stopped.stopped());
        assertEquals(java.util.List.of(), stopped.reports());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Reports.failure(new PrintWriter(out), new PrintWriter(err), true, stopped.messages().get(0),
                ExitCodes.of(stopped.ending()));
        assertEquals(5, code);
        assertEquals("ollama-patch: x.tar: SHA-256 is 00, expected 11;\\nnothing written\n", err.toString());
        assertEquals("{\"error\":\"x.tar: SHA-256 is 00, expected 11;\\\\nnothing written\",\"exit_code\":5}\n",
                out.toString());
    }
}
