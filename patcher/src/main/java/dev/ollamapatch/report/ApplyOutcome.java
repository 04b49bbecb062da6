package dev.ollamapatch.report;

import java.util.List;

/**
 * How an apply ended: the exit status (DESIGN.md section 5) and lines to tell the user. The reports
 * go to a list the caller passes in, so that a refusal, which ends by exception, still has them.
 */
public record ApplyOutcome(int exitCode, List<String> messages) {
    public ApplyOutcome {
        messages = List.copyOf(messages);
    }
}
