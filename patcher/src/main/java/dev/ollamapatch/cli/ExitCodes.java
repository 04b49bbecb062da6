package dev.ollamapatch.cli;

/** Exit statuses, as documented in the README and DESIGN.md section 5. */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;
    public static final int NOTHING_TO_PATCH = 3;
    public static final int INVALID_INPUT = 4;
    public static final int REFUSED = 5;

    private ExitCodes() {}
}
