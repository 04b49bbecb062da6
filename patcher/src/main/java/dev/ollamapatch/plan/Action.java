package dev.ollamapatch.plan;

/** What a plan does with a site. */
public enum Action {
    RETARGET("retarget"),
    SKIP("skip"),
    REFUSE("refuse");

    private final String label;

    Action(String label) { this.label = label; }

    public String label() { return label; }
}
