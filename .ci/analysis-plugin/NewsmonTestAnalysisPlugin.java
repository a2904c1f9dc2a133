/*
 * The analyzers a production Elasticsearch has and the integ-test node lacks, for newsmon's
 * tests only: "kuromoji" (Lucene's JapaneseAnalyzer with its defaults: search mode, the default
 * stop words and part-of-speech stop tags; what the analysis-kuromoji plugin's analyzer builds
 * when given no settings) and "english" (Lucene's EnglishAnalyzer with its default stop words;
 * what the analysis-common module's analyzer builds). Elastic publishes neither plugin to Maven
 * Central, so .ci/es builds this one from Lucene's own jars and installs it into a second node.
 */
package org.newsmon.testanalysis;

import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.ja.JapaneseAnalyzer;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public class NewsmonTestAnalysisPlugin extends Plugin implements AnalysisPlugin {

    private static final class Provider<T extends Analyzer> extends AbstractIndexAnalyzerProvider<T> {
        private final T analyzer;

        Provider(String name, T analyzer) {
            super(name);
            this.analyzer = analyzer;
        }

        @Override
        public T get() {
            return analyzer;
        }
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "kuromoji", (indexSettings, env, name, settings) -> new Provider<>(name, new JapaneseAnalyzer()),
            "english", (indexSettings, env, name, settings) -> new Provider<>(name, new EnglishAnalyzer()));
    }
}
