package dev.ollamapatch.archive;

import java.io.IOException;

/**
 * The input archive could not be read (bad compression, checksum, truncation, broken header): the
 * input is invalid (exit 4), unlike a failure to write the output (exit 1). The message names the entry.
 */
public final class ArchiveReadException extends IOException {
    public ArchiveReadException(String where, Throwable cause) {
        super(where + ": " + describe(cause), cause);
    }

    public ArchiveReadException(String where, String what) {
        super(where + ": " + what);
    }

    private static String describe(Throwable cause) {
        if (cause instanceof java.io.EOFException) return "truncated archive (unexpected end of data)";
        String m = cause.getMessage();
        if (m == null || m.isBlank()) return cause.getClass().getSimpleName();
        if (m.toLowerCase(java.util.Locale.ROOT).contains("truncated")) return "truncated archive (" + m + ")";
        return m;
    }
}
