package dev.ollamapatch.elf;

/**
 * The input is not a well-formed ELF file. The message is one line naming the offending field,
 * its value and where it sits in the file, so a user can check it with a hex dump. Names taken from
 * the file (section names, strings) may hold any byte: control characters are shown escaped
 * ({@code \n}, {@code \x1b}), so the message stays one line and cannot drive a terminal.
 */
public final class ElfFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ElfFormatException(String message) {
        super(oneLine(message));
    }

    /** {@code text} with every control character (C0, DEL, C1) escaped. */
    public static String oneLine(String text) {
        if (text == null) return "malformed ELF file";
        StringBuilder b = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean control = c < 0x20 || (c >= 0x7f && c < 0xa0) || c == '\u2028' || c == '\u2029';
            if (control && b == null) b = new StringBuilder(text.length() + 16).append(text, 0, i);
            if (b == null) continue;
            if (!control) b.append(c);
            else if (c == '\n') b.append("\\n");
            else if (c == '\r') b.append("\\r");
            else if (c == '\t') b.append("\\t");
            else b.append(String.format("\\x%02x", (int) c & 0xff));
        }
        return b == null ? text : b.toString();
    }
}
