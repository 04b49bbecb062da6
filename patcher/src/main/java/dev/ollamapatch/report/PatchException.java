package dev.ollamapatch.report;

import dev.ollamapatch.elf.ElfFormatException;

/**
 * A failure the user must hear about, with the exit status it maps to (DESIGN.md section 5). The
 * message is one line: control characters from file contents or names are shown escaped.
 */
public class PatchException extends RuntimeException {
    public enum Kind {
        FAILED(1), USAGE(2), NOTHING_TO_PATCH(3), INVALID_INPUT(4), REFUSED(5);

        public final int exitCode;

        Kind(int exitCode) { this.exitCode = exitCode; }
    }

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
