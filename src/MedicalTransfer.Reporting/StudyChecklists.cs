using System;
using System.Collections.Generic;
using System.Linq;

namespace MedicalTransfer.Reporting
{
    /// <summary>What the report knows about the run, for filling checklist items (null: not known to the SDK).</summary>
    internal sealed class StudyFacts
    {
        public string? Preprocessing { get; set; }

        public string? Subsets { get; set; }

        public string? Missing { get; set; }

        public string? ReferenceStandard { get; set; }

        public string? SampleSize { get; set; }

        public string? Partitions { get; set; }

        public string? DisjointLevel { get; set; }

        public string? Model { get; set; }

        public string? Software { get; set; }

        public string? Initialisation { get; set; }

        public string? Training { get; set; }

        public string? Selection { get; set; }

        public string? Ensembling { get; set; }

        public string? Metrics { get; set; }

        public string? Uncertainty { get; set; }

        public string? Robustness { get; set; }

        public string? Explainability { get; set; }

        public string? External { get; set; }

        public string? Flow { get; set; }

        public string? PartitionCharacteristics { get; set; }

        public string? Performance { get; set; }

        public string? Accuracy { get; set; }

        public string? ClassImbalance { get; set; }

        public string? Fairness { get; set; }

        public string? Output { get; set; }

        public string? Calibration { get; set; }

        public string? Usefulness { get; set; }

        public string? Development { get; set; }

        public string? Specification { get; set; }
    }

    /// <summary>One checklist item: its number, topic and (paraphrased) requirement, and what the run says about it.</summary>
    internal sealed record ChecklistItem(string Number, string Section, string Requirement, Func<StudyFacts, string?> Fill);

    /// <summary>
    /// The items of CLAIM (Checklist for Artificial Intelligence in Medical Imaging: Mongan, Moy and Kahn,
    /// Radiology: Artificial Intelligence 2020; 42 items, updated 2024) and TRIPOD+AI (Collins et al., BMJ 2024;
    /// 27 items), paraphrased and numbered as published. Wording is ours: check the official checklists before submission.
    /// </summary>
    internal static class StudyChecklists
    {
        public static IReadOnlyList<ChecklistItem> Claim { get; } = new ChecklistItem[]
        {
            new("1", "Title or abstract", "Identify the study as using AI, naming the technique (for example deep learning).", _ => null),
            new("2", "Abstract", "Structured summary of design, methods, results and conclusions.", _ => null),
            new("3", "Introduction", "Scientific and clinical background, the AI's intended use and clinical role.", _ => null),
            new("4", "Introduction", "Study objectives and hypotheses.", _ => null),
            new("5", "Study design", "Prospective or retrospective study.", _ => null),
            new("6", "Study design", "Study goal (model creation, exploratory, feasibility, non-inferiority).", _ => null),
            new("7", "Data", "Data sources.", _ => null),
            new("8", "Data", "Eligibility criteria (inclusion, exclusion) of patients or images.", _ => null),
            new("9", "Data", "Data preprocessing steps.", f => f.Preprocessing),
            new("10", "Data", "Selection of data subsets, if any.", f => f.Subsets),
            new("11", "Data", "Definitions of data elements, with references to common data elements.", _ => null),
            new("12", "Data", "De-identification methods.", _ => null),
            new("13", "Data", "How missing data were handled.", f => f.Missing),
            new("14", "Reference standard", "Definition of the ground truth (reference standard), in enough detail to replicate it.", f => f.ReferenceStandard),
            new("15", "Reference standard", "Rationale for choosing the reference standard.", _ => null),
            new("16", "Reference standard", "Source of the annotations; qualifications and preparation of annotators.", _ => null),
            new("17", "Reference standard", "Annotation tools.", _ => null),
            new("18", "Reference standard", "Measurement of inter- and intra-rater variability; how discrepancies were resolved.", _ => null),
            new("19", "Data partitions", "Intended sample size and how it was determined.", f => f.SampleSize is null ? null : f.SampleSize + " (how it was determined: for the author)"),
            new("20", "Data partitions", "How data were assigned to partitions; proportions.", f => f.Partitions),
            new("21", "Data partitions", "Level at which partitions are disjoint (image, study, patient, institution).", f => f.DisjointLevel),
            new("22", "Model", "Detailed description of the model: inputs, outputs, layers and connections.", f => f.Model),
            new("23", "Model", "Software libraries, frameworks and packages.", f => f.Software),
            new("24", "Model", "Initialisation of model parameters (random, transfer learning).", f => f.Initialisation),
            new("25", "Training", "Training approach: augmentation, hyperparameters, number of models trained.", f => f.Training),
            new("26", "Training", "Method of selecting the final model.", f => f.Selection),
            new("27", "Training", "Ensembling techniques, if any.", f => f.Ensembling),
            new("28", "Evaluation", "Metrics of model performance.", f => f.Metrics),
            new("29", "Evaluation", "Statistical measures of significance and uncertainty (confidence intervals).", f => f.Uncertainty),
            new("30", "Evaluation", "Robustness or sensitivity analysis.", f => f.Robustness),
            new("31", "Evaluation", "Methods of explainability or interpretability (for example saliency maps), and how they were validated.", f => f.Explainability),
            new("32", "Evaluation", "Validation or testing on external data.", f => f.External),
            new("33", "Results", "Flow of patients or images, with inclusions and exclusions (a diagram).", f => f.Flow),
            new("34", "Results", "Demographic and clinical characteristics of cases in each partition.", f => f.PartitionCharacteristics),
            new("35", "Results", "Performance metrics of the model(s) on all data partitions.", f => f.Performance),
            new("36", "Results", "Estimates of diagnostic accuracy and their precision (such as 95% confidence intervals).", f => f.Accuracy),
            new("37", "Results", "Failure analysis of incorrectly classified cases.", _ => null),
            new("38", "Discussion", "Limitations, including potential bias, statistical uncertainty and generalisability.", _ => null),
            new("39", "Discussion", "Implications for practice, including intended use and clinical role.", _ => null),
            new("40", "Other information", "Registration number and name of registry.", _ => null),
            new("41", "Other information", "Where the full study protocol (and code, data) can be accessed.", _ => null),
            new("42", "Other information", "Sources of funding and other support; role of funders.", _ => null),
        };

        public static IReadOnlyList<ChecklistItem> TripodAi { get; } = new ChecklistItem[]
        {
            new("1", "Title", "Identify the study as developing or evaluating a prediction model, the target population and the outcome.", _ => null),
            new("2", "Abstract", "Follow TRIPOD+AI for Abstracts.", _ => null),
            new("3", "Background", "Healthcare context, rationale for the model, intended use and users; existing models.", _ => null),
            new("4", "Objectives", "Study objectives: development, validation, or both.", _ => null),
            new("5", "Data sources", "Sources of data (for example cohort, registry, routine care), dates and representativeness.", _ => null),
            new("6", "Participants", "Study setting, eligibility criteria, treatments received.", _ => null),
            new("7", "Data preparation", "Data pre-processing and quality checking, across sociodemographic groups.", f => f.Preprocessing),
            new("8", "Outcome", "Outcome predicted, how and when it was assessed; blinding.", f => f.ReferenceStandard),
            new("9", "Predictors", "Predictors (here: images) used, how and when measured.", f => f.Preprocessing is null ? null : "images only; " + f.Preprocessing),
            new("10", "Sample size", "Study size and how it was arrived at.", f => f.SampleSize is null ? null : f.SampleSize + " (justification: for the author)"),
            new("11", "Missing data", "How missing data were handled.", f => f.Missing),
            new("12", "Analytical methods", "How data were used (development, internal validation), model type, building, hyperparameter tuning, internal validation, performance measures, heterogeneity.", f => f.Development),
            new("13", "Class imbalance", "Any methods for class imbalance, and their rationale.", f => f.ClassImbalance),
            new("14", "Fairness", "Approaches to address model fairness.", f => f.Fairness),
            new("15", "Model output", "The model's output (probability, class) and the decision threshold, with its rationale.", f => f.Output),
            new("16", "Training versus evaluation", "Differences between development and evaluation data (setting, eligibility, outcome, predictors).", f => f.External),
            new("17", "Ethical approval", "Ethics committee approval and consent.", _ => null),
            new("18", "Open science", "Funding, conflicts of interest, protocol, registration, data and code availability.", f => f.Software is null ? null : "software and versions: " + f.Software + "; protocol, registration, data and code: for the author"),
            new("19", "Patient and public involvement", "Patient and public involvement, or its absence.", _ => null),
            new("20", "Participants", "Flow of participants, number with and without the outcome, characteristics by data source.", f => f.Flow),
            new("21", "Model development", "Participants and outcome events in each analysis (each fold, each partition).", f => f.PartitionCharacteristics),
            new("22", "Model specification", "Full details of the model (or how to access it and use it).", f => f.Specification),
            new("23", "Model performance", "Performance with confidence intervals, including calibration and clinical utility, and in key subgroups.", f => f.Accuracy is null ? null : string.Join("; ", new[] { f.Accuracy, f.Calibration, f.Usefulness, f.Fairness }.OfType<string>())),
            new("24", "Model updating", "Results of any model updating (recalibration).", f => f.Calibration),
            new("25", "Interpretation", "Overall interpretation of the main results, fairness in the context of the objectives.", _ => null),
            new("26", "Limitations", "Limitations (non-representative sample, sample size, overfitting, missing data) and their effects.", _ => null),
            new("27", "Usability", "How poor-quality or unavailable input is handled, whether users interact with the data, implications for use and next steps.", _ => null),
        };
    }
}
