package dev.ollamapatch.service;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The systemd drop-in that keeps Ollama patched across upgrades: before every start of the unit,
 * as root, {@code apply --quiet TARGET}. Ollama's install script and its packages replace
 * {@code bin/ollama} and {@code lib/ollama} on upgrade; the next start patches them again, and an
 * already patched install costs one quick check.
 *
 * <p>The command line is prefixed {@code -+} (systemd.service(5), "ExecStart=" prefixes): {@code +}
 * runs it with full privileges whatever {@code User=} says, {@code -} makes a failure (a version the
 * tool refuses, a full disk) log and let Ollama start as it would have without the tool. Pure: text in,
 * text out.
 */
public final class SystemdDropIn {
    /** The drop-in's file name inside {@code <unit>.d/}. */
    public static final String FILE_NAME = "ollama-patch.conf";
    private static final String MARK = "# Written by ollama-patch service install; removed by ollama-patch service remove.";

    private SystemdDropIn() {}

    /** The drop-in's text for running {@code tool apply --quiet target} before each start. */
    public static String render(Path tool, Path target) {
        return MARK + "\n"
                + "# Re-applies the NVML patch after Ollama upgrades; a failure is logged and Ollama starts unpatched.\n"
                + "[Service]\n"
                + "ExecStartPre=-+" + quote(tool.toString()) + " apply --quiet " + quote(target.toString()) + "\n";
    }

    /** Whether {@code text} is a drop-in this tool wrote (so that remove never deletes a user's file). */
    public static boolean isOurs(String text) {
        return text.startsWith(MARK + "\n");
    }

    /** The {@code ExecStartPre=} line of a drop-in, if it has one. */
    public static Optional<String> execStartPre(String text) {
        return text.lines().filter(l -> l.startsWith("ExecStartPre=")).findFirst();
    }

    /**
     * One word of a systemd command line: quoted when it holds anything but plain path characters,
     * with {@code %} doubled (specifier expansion) and {@code $} doubled (variable expansion), as
     * systemd.service(5) "Command lines" and systemd.unit(5) "Specifiers" require.
     */
    static String quote(String word) {
        StringBuilder b = new StringBuilder();
        boolean plain = !word.isEmpty();
        for (int i = 0; i < word.length(); i++) {
            char c = word.charAt(i);
            if (c < 0x20 || c == 0x7F) throw new IllegalArgumentException("a control character in " + List.of(word));
            switch (c) {
                case '%' -> b.append("%%");
                case '$' -> b.append("$$");
                case '"', '\\' -> { b.append('\\').append(c); plain = false; }
                default -> {
                    if (!(Character.isLetterOrDigit(c) || "/._-+:=@,".indexOf(c) >= 0)) plain = false;
                    b.append(c);
                }
            }
        }
        return plain ? b.toString() : "\"" + b + "\"";
    }
}
