package dev.ollamapatch.doctor;

import java.util.List;

/**
 * One line of the doctor's answer: what was checked ({@code id}, e.g. {@code host.pci}), how it
 * came out, a one-line summary, the evidence it rests on, and for anything not ok the fix in one
 * sentence.
 */
public record Check(String id, Status status, String summary, List<String> evidence, String fix) {
    public Check {
        evidence = List.copyOf(evidence);
        if (status != Status.OK && (fix == null || fix.isBlank())) {
            throw new IllegalArgumentException(id + ": a check that is not ok must say how to fix it");
        }
    }

    public static Check ok(String id, String summary, String... evidence) {
        return new Check(id, Status.OK, summary, List.of(evidence), null);
    }

    public static Check warn(String id, String summary, String fix, String... evidence) {
        return new Check(id, Status.WARN, summary, List.of(evidence), fix);
    }

    public static Check fail(String id, String summary, String fix, String... evidence) {
        return new Check(id, Status.FAIL, summary, List.of(evidence), fix);
    }

    public Check withEvidence(List<String> more) {
        List<String> all = new java.util.ArrayList<>(evidence);
        all.addAll(more);
        return new Check(id, status, summary, all, fix);
    }
}
