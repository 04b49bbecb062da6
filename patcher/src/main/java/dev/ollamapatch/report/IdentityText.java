package dev.ollamapatch.report;

import dev.ollamapatch.elf.ElfFormatException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.ollama.Identity;

/** The identity lines of a file's report (text) and its {@code "ollama"} object (JSON). */
final class IdentityText {
    private IdentityText() {}

    static void append(StringBuilder out, Identity id) {
        out.append("  is       ").append(ElfFormatException.oneLine(id.summary())).append('\n');
        out.append("  version  ").append(id.version() != null ? ElfFormatException.oneLine(id.version()) : "unknown")
                .append(" (").append(ElfFormatException.oneLine(id.versionSource())).append(")\n");
        for (String c : id.versionCandidates()) out.append("           candidate ").append(ElfFormatException.oneLine(c)).append('\n');
        out.append("  NVML     generation ").append(id.generation().label()).append(" (")
                .append(id.generationSource()).append("): ").append(id.generation().nvmlDecides()).append('\n');
        out.append("  libc     ").append(id.libc().name()).append(" (").append(ElfFormatException.oneLine(id.libc().evidence()))
                .append(")\n");
        if (id.go() != null) {
            out.append("  go       ").append(ElfFormatException.oneLine(id.go().goVersion()));
            if (id.go().mainModule() != null) {
                out.append(", main module ").append(ElfFormatException.oneLine(id.go().mainModule()));
                if (id.go().mainVersion() != null) out.append(' ').append(ElfFormatException.oneLine(id.go().mainVersion()));
            }
            out.append('\n');
        }
        if (id.patched().patched()) {
            out.append("  patched  yes, per ").append(id.patched().by())
                    .append(id.patched().tool() != null ? ", by " + ElfFormatException.oneLine(id.patched().tool()) : "")
                    .append(id.patched().paths().isEmpty() ? "" : ", to " + ElfFormatException.oneLine(String.join(", ",
                            id.patched().paths()))).append('\n');
        } else {
            out.append("  patched  no\n");
        }
        for (String e : id.patched().evidence()) out.append("           ").append(ElfFormatException.oneLine(e)).append('\n');
        for (String w : id.warnings()) out.append("  WARNING  ").append(ElfFormatException.oneLine(w)).append('\n');
        for (String a : id.advice()) out.append("  advice   ").append(ElfFormatException.oneLine(a)).append('\n');
    }

    static ObjectNode json(Identity id) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("summary", id.summary());
        n.put("ollama", id.ollama());
        if (id.version() != null) n.put("version", id.version()); else n.putNull("version");
        n.put("version_source", id.versionSource());
        ArrayNode cands = n.putArray("version_candidates");
        id.versionCandidates().forEach(cands::add);
        n.put("generation", id.generation().label());
        n.put("generation_versions", id.generation().versions());
        n.put("generation_source", id.generationSource());
        n.put("nvml_decides", id.generation().nvmlDecides());
        n.put("uses_nvml", id.generation() != dev.ollamapatch.ollama.Generation.NONE);
        n.put("machine", id.machine());
        n.put("class", id.elfClass());
        n.put("libc", id.libc().name());
        n.put("libc_evidence", id.libc().evidence());
        if (id.go() != null) {
            ObjectNode go = n.putObject("go");
            go.put("version", id.go().goVersion());
            if (id.go().path() != null) go.put("path", id.go().path());
            if (id.go().mainModule() != null) go.put("main_module", id.go().mainModule());
            if (id.go().mainVersion() != null) go.put("main_version", id.go().mainVersion());
        } else {
            n.putNull("go");
        }
        ObjectNode p = n.putObject("patched");
        p.put("patched", id.patched().patched());
        if (id.patched().by() != null) p.put("by", id.patched().by()); else p.putNull("by");
        if (id.patched().tool() != null) p.put("tool", id.patched().tool()); else p.putNull("tool");
        ArrayNode paths = p.putArray("paths");
        id.patched().paths().forEach(paths::add);
        ArrayNode ev = p.putArray("evidence");
        id.patched().evidence().forEach(ev::add);
        ArrayNode w = n.putArray("warnings");
        id.warnings().forEach(w::add);
        ArrayNode a = n.putArray("advice");
        id.advice().forEach(a::add);
        return n;
    }
}
