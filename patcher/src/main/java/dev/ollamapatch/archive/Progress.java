package dev.ollamapatch.archive;

import java.io.PrintWriter;
import java.util.function.LongConsumer;

/**
 * A one-line progress bar on stderr, measured in compressed bytes read. Written here rather than
 * taken from a library: it is twenty lines, and a library would bring terminal detection and
 * threads that a CI log does not need. It draws only when asked to (stderr is a terminal and no
 * {@code --json}) and only once a run has lasted a second, so short runs and logs stay clean.
 */
public class Progress implements LongConsumer {
    static final Progress NONE = new Progress(null, 0);
    private static final long FIRST_DRAW_NS = 1_000_000_000L;
    private static final long REDRAW_NS = 200_000_000L;
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final long total;
    private final long start = System.nanoTime();
    private long lastDraw;
    private boolean drawn;
    private String label = "";

    /** Package-private so that a test can hear each entry every pass names. */
    Progress(PrintWriter err, long total) {
        this.err = err;
        this.total = total;
    }

    static Progress bar(PrintWriter err, long totalBytes) {
        return new Progress(err, totalBytes);
    }

    void entry(String name) {
        label = name;
    }

    @Override
    public void accept(long done) {
        if (err == null) return;
        long now = System.nanoTime();
        if (now - start < FIRST_DRAW_NS || now - lastDraw < REDRAW_NS) return;
        lastDraw = now;
        drawn = true;
        err.print("\r" + render(done, total, label));
        err.flush();
    }

    /** Clears the bar so the next message starts on a clean line. */
    void finish() {
        if (err == null || !drawn) return;
        err.print("\r" + " ".repeat(render(total, total, label).length()) + "\r");
        err.flush();
    }

    /** {@code [=========>          ]  45%  123/456 MiB  bin/ollama}, the label cut to fit a line. */
    static String render(long done, long total, String label) {
        int pct = total <= 0 ? 0 : (int) Math.min(100, done * 100 / total);
        int fill = pct * WIDTH / 100;
        String bar = "=".repeat(fill) + (fill < WIDTH ? ">" + " ".repeat(WIDTH - fill - 1) : "");
        String name = label.length() > 30 ? "..." + label.substring(label.length() - 27) : label;
        return String.format("[%s] %3d%%  %d/%d MiB  %-30s", bar, pct, done >> 20, total >> 20, name);
    }
}
