package dev.ollamapatch.report;

/**
 * A precondition of a run not met, found before any file is decided about: the input does not match
 * {@code --checksums} or {@code --expect-sha256}, the install location is unsafe, another run holds
 * the target's lock. A normal ending, returned as a value; the command line prints it as it prints a
 * failure (one line; with {@code --json}, an error document) and maps {@link #ending} to the exit status.
 *
 * @param ending REFUSED (exit 5) or BUSY (exit 1)
 * @param line   the whole line for the user: what, where, and that nothing changed
 */
public record Refusal(ApplyOutcome.Ending ending, String line) {
    /** Refused for safety (exit 5). */
    public static Refusal refused(String line) {
        return new Refusal(ApplyOutcome.Ending.REFUSED, line);
    }

    /** Another run is working on the target (exit 1). */
    public static Refusal busy(String line) {
        return new Refusal(ApplyOutcome.Ending.BUSY, line);
    }

    /** The apply's outcome: stopped before any file, no report. */
    public ApplyOutcome outcome() {
        return ApplyOutcome.stopped(this);
    }
}
