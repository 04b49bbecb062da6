package dev.ollamapatch.site;

/**
 * The one escaping of file contents for display: a string from a binary shown between quotes in a
 * report or a reason. Control characters show escaped as in the tool's one-line errors
 * ({@code \n}, {@code \r}, {@code \t}, {@code \x1b}), other bytes outside printable ASCII as
 * {@code \xNN}, and the quote and backslash as {@code \"} and {@code \\}, so the quoting stays
 * unambiguous and the text can be read back. It lives here, at the bottom, because the site
 * finder's reasons quote file contents as the reports do.
 */
public final class Printable {
    private Printable() {}

    public static String of(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') b.append(c);
            else if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c == '\n') b.append("\\n");
            else if (c == '\r') b.append("\\r");
            else if (c == '\t') b.append("\\t");
            else if (c < 0x100) b.append(String.format("\\x%02x", (int) c));
            else b.append(String.format("\\u%04x", (int) c));
        }
        return b.toString();
    }
}
