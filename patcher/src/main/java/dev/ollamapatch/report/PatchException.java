package dev.ollamapatch.report;

import dev.ollamapatch.elf.ElfFormatException;

/**
 * A failure the user must hear about, of a kind that maps to an exit status (DESIGN.md section 5). The
 * message is one line: control characters from file contents or names are shown escaped.
 */
public class PatchException extends RuntimeException {
    /** What went wrong; the command line maps each kind to its exit code ({@code cli.ExitCodes}). */
    public enum Kind { FAILED, USAGE, NOTHING_TO_PATCH, INVALID_INPUT, REFUSED }

    private final Kind kind;

    public PatchException(Kind kind, String message) {
        super(ElfFormatException.oneLine(message));
        this.kind = kind;
    }

    public PatchException(Kind kind, String message, Throwable cause) {
        super(ElfFormatException.oneLine(message), cause);
        this.kind = kind;
    }

    public Kind kind() { return kind; }
}
