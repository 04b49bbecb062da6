package dev.ollamapatch.cli;

import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.PatchException;

/**
 * Exit statuses, as documented in the README and DESIGN.md section 5: the one place where results
 * and failures become numbers.
 */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;
    public static final int NOTHING_TO_PATCH = 3;
    public static final int INVALID_INPUT = 4;
    public static final int REFUSED = 5;

    private ExitCodes() {}

    /** The exit status of an apply that ended normally. */
    public static int of(ApplyOutcome.Ending ending) {
        switch (ending) {
            case DONE: return OK;
            case NOTHING_TO_PATCH: return NOTHING_TO_PATCH;
            case REFUSED: return REFUSED;
            case BUSY: return FAILED;
            default: throw new IllegalArgumentException(ending.name());
        }
    }

    /** The exit status of a failure. */
    public static int of(PatchException.Kind kind) {
        switch (kind) {
            case FAILED: return FAILED;
            case USAGE: return USAGE;
            case NOTHING_TO_PATCH: return NOTHING_TO_PATCH;
            case INVALID_INPUT: return INVALID_INPUT;
            case REFUSED: return REFUSED;
            default: throw new IllegalArgumentException(kind.name());
        }
    }
}
