package dev.ollamapatch.report;

import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.site.Site;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/** The machine-readable report of DESIGN.md section 5 (plus evidence, sections and status). */
public final class JsonReport {
    private JsonReport() {}

    public static ObjectNode build(List<FileReport> files, String tool, boolean dryRun) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("tool", tool);
        root.put("dry_run", dryRun);
        ArrayNode arr = root.putArray("files");
        for (FileReport f : files) arr.add(file(f));
        return root;
    }

    static ObjectNode file(FileReport f) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("path", f.path());
        n.put("sha256", f.sha256());
        n.put("machine", f.plan().scan().machine());
        n.put("go", f.plan().scan().go());
        n.put("status", f.status().label());
        ArrayNode sites = n.putArray("sites");
        for (PlannedSite p : f.plan().sites()) {
            Site s = p.site();
            ObjectNode o = sites.addObject();
            o.put("offset", s.offset());
            o.put("length", s.length());
            o.put("kind", s.kind().label());
            o.put("original", s.original());
            o.put("replacement", p.replacementText());
            o.put("action", p.action().label());
            if (p.reason() != null) o.put("reason", p.reason()); else o.putNull("reason");
            o.put("library", s.library().name());
            o.put("role", s.role().name().toLowerCase());
            o.put("section", s.section());
            if (s.vaddr() >= 0) o.put("vaddr", s.vaddr()); else o.putNull("vaddr");
            ArrayNode ev = o.putArray("evidence");
            s.evidence().forEach(ev::add);
            ArrayNode inner = o.putArray("inner_refs");
            s.innerRefs().forEach(inner::add);
        }
        if (f.shim() != null) {
            ObjectNode shim = n.putObject("shim");
            shim.put("name", f.shim().shim());
            shim.put("ok", f.shim().ok());
            ObjectNode fns = shim.putObject("functions");
            f.shim().functions().forEach(fns::put);
            ArrayNode problems = shim.putArray("problems");
            f.shim().problems().forEach(problems::add);
        }
        if (f.output() != null) n.put("output", f.output());
        if (f.patchedSha256() != null) n.put("patched_sha256", f.patchedSha256());
        if (f.archive() != null) n.put("archive", f.archive());
        return n;
    }
}
